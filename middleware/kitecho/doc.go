package kitecho

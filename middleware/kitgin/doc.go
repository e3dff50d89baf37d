package kitgin

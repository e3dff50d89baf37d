package sqlopen_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

// A store on the database a -db flag names. Open makes a SQLite file's
// directory (here data/, which does not exist yet) for the user alone.
func ExampleParse() {
	dir, err := os.MkdirTemp("", "sqlopen-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	target, err := sqlopen.Parse("sqlite:" + filepath.Join(dir, "data", "shop.db")) // or postgres://…, mysql://…
	if err != nil {
		log.Fatal(err)
	}
	db, err := target.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: target.Dialect})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(target.Dialect, target.Driver)
	// Output: sqlite sqlite
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// Proxy writes to dir a module proxy in the layout the go command reads
// from a file:// GOPROXY: for every library module, $path/@v/list,
// $version.info, $version.mod and $version.zip, the zip made from the
// checkout (without nested modules) exactly as the go command makes one
// from a tag. It is the release as users will download it, before any
// tag is pushed.
func Proxy(root string, mods []Module, v, dir string) error {
	when := commitTime(root)
	for _, m := range mods {
		if !m.Library {
			continue
		}
		esc, err := module.EscapePath(m.Path)
		if err != nil {
			return err
		}
		at := filepath.Join(dir, filepath.FromSlash(esc), "@v")
		if err := os.MkdirAll(at, 0o755); err != nil {
			return err
		}
		info, err := json.Marshal(struct {
			Version string
			Time    time.Time
		}{v, when})
		if err != nil {
			return err
		}
		gomod, err := os.ReadFile(filepath.Join(m.Dir, "go.mod"))
		if err != nil {
			return err
		}
		for name, data := range map[string][]byte{"list": []byte(v + "\n"), v + ".info": info, v + ".mod": gomod} {
			if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
				return err
			}
		}
		z, err := os.Create(filepath.Join(at, v+".zip"))
		if err != nil {
			return err
		}
		err = zip.CreateFromDir(z, module.Version{Path: m.Path, Version: v}, m.Dir)
		if cerr := z.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
	}
	return nil
}

// commitTime is the time of the checkout's commit, so that a proxy built
// twice from one commit says the same; now, outside a git checkout.
func commitTime(root string) time.Time {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%cI").Output()
	if err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out))); err == nil {
			return t.UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// Package layout holds the test that keeps the repository's floors (see
// docs/packages.md, "Floors"): no import of a package's non-test files
// runs up a floor, every package is placed, and the root internal/
// packages are leaves. It has no code of its own.
package layout

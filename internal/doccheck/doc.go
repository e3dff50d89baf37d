// Package doccheck holds a test that every exported name of the root
// module has a doc comment: the kit's users read it through go doc, and
// a wire field without one leaves them guessing (fen or yuan? GMT+8?).
package doccheck

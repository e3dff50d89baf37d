// Package sign computes and verifies the UnifiedPay (超赢) signature that
// protects every request, response and notification of the gateway.
//
// The canonical string is built exactly as the gateway documents it: drop the
// sign parameter (any letter case), drop empty and whitespace-only values,
// sort the names case-insensitively (lower-case fold, byte order as the
// tie-break), join the raw name=value pairs with '&' and append "&key=KEY".
// The digest of that string, in upper-case hex, is the sign.
//
// The package is pure: it takes form values or a map and never touches HTTP.
package sign

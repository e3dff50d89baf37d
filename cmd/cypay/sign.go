package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/cypaykit/kit/sign"
)

// maskedKey stands in for the key in printed strings-to-sign.
const maskedKey = "****"

func cmdSign(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("sign", "[-key K] [-alg MD5|SHA1|SHA256|HMAC-SHA256] [-v] [k=v ...]  (or a form body on stdin)", stderr)
	key := fs.String("key", "", "signing key (default $CYPAY_KEY)")
	algName := fs.String("alg", "MD5", "algorithm: MD5, SHA1, SHA256 or HMAC-SHA256")
	verbose := fs.Bool("v", false, "also print the string that is hashed, with the key masked")
	if err := parse(fs, args); err != nil {
		return err
	}
	alg, params, k, err := commonInput(fs, *algName, *key, stdin)
	if err != nil {
		return err
	}
	sg, err := sign.Sign(params, k, alg)
	if err != nil {
		return err
	}
	if *verbose {
		s, err := sign.StringToSign(params, maskedKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "string: %s\n", s)
		fmt.Fprintf(stdout, "sign:   %s\n", sg)
		return nil
	}
	fmt.Fprintln(stdout, sg)
	return nil
}

func cmdVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "[-key K] [-alg MD5|SHA1|SHA256|HMAC-SHA256] [k=v ...]  (or a form body on stdin)", stderr)
	key := fs.String("key", "", "key to verify with (default $CYPAY_KEY)")
	algName := fs.String("alg", "MD5", "algorithm: MD5, SHA1, SHA256 or HMAC-SHA256")
	if err := parse(fs, args); err != nil {
		return err
	}
	alg, params, k, err := commonInput(fs, *algName, *key, stdin)
	if err != nil {
		return err
	}
	if err := sign.Verify(params, alg, k); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// commonInput resolves sign's and verify's algorithm, parameters and key.
func commonInput(fs *flag.FlagSet, algName, key string, stdin io.Reader) (sign.Algorithm, url.Values, string, error) {
	alg, err := sign.ParseAlgorithm(algName)
	if err != nil {
		return "", nil, "", usagef("%v", err)
	}
	k := keyFlag(key)
	if k == "" {
		return "", nil, "", usagef("no key: give -key or set CYPAY_KEY")
	}
	params, err := readParams(fs.Args(), stdin)
	if err != nil {
		return "", nil, "", err
	}
	return alg, params, k, nil
}

// readParams takes k=v arguments or, with none, a form body from stdin.
// Values are raw: an argument "body=a&b" signs the text "a&b".
func readParams(args []string, stdin io.Reader) (url.Values, error) {
	params := url.Values{}
	if len(args) > 0 {
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return nil, usagef("argument %q is not k=v", a)
			}
			params.Add(k, v)
		}
		return params, nil
	}
	if stdin == nil {
		return nil, usagef("no parameters: give k=v arguments or a form body on stdin")
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	body := strings.TrimSpace(string(b))
	if body == "" {
		return nil, usagef("no parameters: give k=v arguments or a form body on stdin")
	}
	params, err = url.ParseQuery(body)
	if err != nil {
		return nil, usagef("stdin is not a form body: %v", err)
	}
	return params, nil
}

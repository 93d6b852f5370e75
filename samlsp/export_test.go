package samlsp

import "errors"

// CheckPasswordForBench exposes checkPassword to the external benchmarks.
func CheckPasswordForBench(hash, password string) error {
	ok, err := checkPassword(hash, password)
	if err == nil && !ok {
		err = errors.New("password did not match")
	}
	return err
}

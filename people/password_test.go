package people

import "testing"

// BenchmarkPassword is the cost of one password check (argon2id, 19 MiB, t=2): what each attempt at
// /login costs the server, and why attempts are limited per account and address.
func BenchmarkPassword(b *testing.B) {
	h, err := HashPassword("a long admin password")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := checkPassword(h, "a long admin password"); !ok || err != nil {
			b.Fatalf("checkPassword: %v, %v", ok, err)
		}
	}
}

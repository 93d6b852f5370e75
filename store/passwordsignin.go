package store

// PasswordSignIn is a password sign-in whose password was checked (outside any transaction: argon2id
// takes ~50 ms): everything it writes, written in one transaction by Store.PasswordSignIn.
type PasswordSignIn struct {
	UserID string // the tenant's user whose password matched
	// PasswordHash is the stored hash the password was checked against. If it is no longer the stored
	// one (an admin reset it while the check ran), the sign-in is refused.
	PasswordHash string
	// Attempt is the id ReserveLoginAttempt gave the attempt; it is forgotten under every key, so a
	// success counts against no limit (a client address may be shared).
	Attempt string
	// AccountKey is the account's limit key, whose recorded failures are cleared.
	AccountKey string
	Session    Session // IDHash, ExpiresAt, Mobile; tenant, user and Pending are filled in
	Audit      Audit   // recorded for the user when complete changed it
	// Log, when not nil, is recorded in the sign-in log in the same transaction, as SignIn.Log is.
	Log *SignInRecord
}

package app

// PasswordChecks returns how many password hashes the app has computed to
// check a password, so tests can show that throttled attempts cost none.
func (a *App) PasswordChecks() int64 { return a.users.checks.Load() }

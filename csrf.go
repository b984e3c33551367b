package session

// csrfSessionKey is the reserved session key holding the synchronizer token.
// Login and Renew drop it, so a new ID gets a new token.
const csrfSessionKey = "_csrf"

package session

import "github.com/sessionkit/session/internal/csrf"

// CSRFHeader is the request header [Manager.CSRF] reads the token from
// (for fetch/XHR clients).
const CSRFHeader = csrf.Header

// CSRFField is the form field [Manager.CSRF] reads the token from when the
// header is absent (for HTML forms), within the first
// [Config].CSRFMaxFormBytes of a URL-encoded or multipart body.
const CSRFField = csrf.Field

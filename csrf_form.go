package session

import "github.com/sessionkit/session/internal/csrfform"

// CSRFHeader is the request header [Manager.CSRF] reads the token from
// (for fetch/XHR clients).
const CSRFHeader = csrfform.Header

// CSRFField is the form field [Manager.CSRF] reads the token from when the
// header is absent (for HTML forms), within the first
// [Config].CSRFMaxFormBytes of a URL-encoded or multipart body.
const CSRFField = csrfform.Field

package frameworks

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/session"
)

// NewEcho is the application on echo: echo.WrapMiddleware(m.Handler)
// gives the handlers the session's writer (echo swaps c.Response()).
func NewEcho(m *session.Manager) http.Handler {
	e := echo.New()
	e.Use(echo.WrapMiddleware(m.Handler))
	e.POST("/inc", func(c echo.Context) error {
		s := session.FromContext(c.Request().Context())
		n := s.GetInt("n") + 1
		if err := s.Set("n", n); err != nil {
			return echo.NewHTTPError(http.StatusInternalServerError, "session error")
		}
		return c.String(http.StatusOK, itoa(n))
	})
	e.POST("/login", func(c echo.Context) error {
		if err := session.FromContext(c.Request().Context()).Login(c.Request().Context(), c.FormValue("user")); err != nil {
			return echo.NewHTTPError(http.StatusInternalServerError, "login failed")
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/whoami", func(c echo.Context) error {
		return c.String(http.StatusOK, session.FromContext(c.Request().Context()).UserID())
	})
	e.GET("/token", func(c echo.Context) error { return c.String(http.StatusOK, session.CSRFToken(c.Request())) })
	csrf := echo.WrapMiddleware(m.CSRF)
	e.POST("/form", func(c echo.Context) error { return c.String(http.StatusOK, "accepted "+c.FormValue("x")) }, csrf)
	e.POST("/api", func(c echo.Context) error { return c.String(http.StatusOK, "accepted ") }, csrf)
	e.GET("/events", echo.WrapHandler(http.HandlerFunc(Events)))
	e.GET("/ws", echo.WrapHandler(http.HandlerFunc(Socket)))
	return e
}

package frameworks

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/ginsession"
)

// NewGin is the application on gin, mounted with ginsession (gin writes
// through its own writer: `c.Request = r; c.Next()` inside m.Handler would
// lose every session).
func NewGin(m *session.Manager) http.Handler {
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.POST("/inc", func(c *gin.Context) {
		s := ginsession.From(c)
		n := s.GetInt("n") + 1
		if err := s.Set("n", n); err != nil {
			c.String(http.StatusInternalServerError, "session error")
			return
		}
		c.String(http.StatusOK, itoa(n))
	})
	r.POST("/login", func(c *gin.Context) {
		if err := ginsession.From(c).Login(c.Request.Context(), c.PostForm("user")); err != nil {
			c.String(http.StatusInternalServerError, "login failed")
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, ginsession.From(c).UserID()) })
	r.GET("/token", func(c *gin.Context) { c.String(http.StatusOK, session.CSRFToken(c.Request)) })
	protected := r.Group("/", ginsession.CSRF(m))
	protected.POST("/form", func(c *gin.Context) { c.String(http.StatusOK, "accepted "+c.PostForm("x")) })
	protected.POST("/api", func(c *gin.Context) { c.String(http.StatusOK, "accepted ") })
	r.GET("/events", gin.WrapF(Events))
	r.GET("/ws", gin.WrapF(Socket))
	return r
}

package keelhttp_test

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keelhttp"
)

// Ask a member's handler for /health. A program mounts the handler in its
// own mux (http.StripPrefix for a prefix) and gives Options.Metrics a
// Prometheus handler (package keelprom) to serve /metrics too.
func ExampleNewHandler() {
	dir, err := os.MkdirTemp("", "keelhttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := keel.Open(keel.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	h := keelhttp.NewHandler(s, keelhttp.Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	fmt.Print(rec.Code, " ", string(body))
	// Output:
	// 200 {"health":"true","reason":""}
}

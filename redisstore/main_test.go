package redisstore

import (
	"os"
	"testing"

	"github.com/wxinvoice/wxinvoice/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.AnnounceMissing("redis-server",
		"the redisstore tests against a real Redis were SKIPPED; install it (apt-get install -y redis-server) to run them")
	os.Exit(code)
}

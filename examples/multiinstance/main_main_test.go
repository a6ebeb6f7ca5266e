package main

import (
	"os"
	"testing"

	"github.com/wxinvoice/wxinvoice/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.AnnounceMissing("redis-server",
		"the multi-instance example test was SKIPPED; install it (apt-get install -y redis-server) to run it")
	os.Exit(code)
}

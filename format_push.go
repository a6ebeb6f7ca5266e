package wxinvoice

import (
	"fmt"
	"log/slog"
)

// PushConfig's formatting lives apart from format.go because PushConfig is a
// test builder that may move to wxinvoicetest: the methods move with it.

// Format prints the config with Token and EncodingAESKey REDACTED.
func (cfg PushConfig) Format(f fmt.State, verb rune) { writeRedactedStruct(f, verb, cfg) }

// String returns the config as %v prints it.
func (cfg PushConfig) String() string { return fmt.Sprintf("%v", cfg) }

// GoString returns the config as %#v prints it.
func (cfg PushConfig) GoString() string { return fmt.Sprintf("%#v", cfg) }

// LogValue returns the config as %+v prints it.
func (cfg PushConfig) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", cfg)) }

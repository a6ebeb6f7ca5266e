package wxinvoice

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
)

// The types below (and PushConfig, format_push.go) hold credentials (the app
// secret, a push Token, an EncodingAESKey). Their Format, String, GoString and LogValue methods print
// them with every credential replaced by REDACTED, for every fmt verb (%v,
// %+v, %#v, %s...) and for log/slog, so that a config or a client dropped
// into a log line does not leak.

// Format prints the Client's appid and base URL, never a token or secret.
func (c *Client) Format(f fmt.State, verb rune) {
	if c == nil {
		fmt.Fprint(f, "<nil>")
		return
	}
	writeOpaque(f, verb, "Client", "AppID", c.appID, "BaseURL", c.baseURL)
}

// String returns the Client as %v prints it.
func (c *Client) String() string { return fmt.Sprintf("%v", c) }

// GoString returns the Client as %#v prints it.
func (c *Client) GoString() string { return fmt.Sprintf("%#v", c) }

// LogValue returns the Client as %+v prints it.
func (c *Client) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", c)) }

// Format prints the Component's appid, never its secret, ticket or tokens.
func (cp *Component) Format(f fmt.State, verb rune) {
	if cp == nil {
		fmt.Fprint(f, "<nil>")
		return
	}
	writeOpaque(f, verb, "Component", "AppID", cp.appID, "Secret", redactedIfSet(cp.secret))
}

// String returns the Component as %v prints it.
func (cp *Component) String() string { return fmt.Sprintf("%v", cp) }

// GoString returns the Component as %#v prints it.
func (cp *Component) GoString() string { return fmt.Sprintf("%#v", cp) }

// LogValue returns the Component as %+v prints it.
func (cp *Component) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", cp)) }

// Format prints the EventHandler without its Token or keys.
func (h *EventHandler) Format(f fmt.State, verb rune) {
	if h == nil {
		fmt.Fprint(f, "<nil>")
		return
	}
	writeOpaque(f, verb, "EventHandler", "Token", redacted, "EncodingAESKey", redacted)
}

// String returns the EventHandler as %v prints it.
func (h *EventHandler) String() string { return fmt.Sprintf("%v", h) }

// GoString returns the EventHandler as %#v prints it.
func (h *EventHandler) GoString() string { return fmt.Sprintf("%#v", h) }

// LogValue returns the EventHandler as %+v prints it.
func (h *EventHandler) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", h)) }

// Format prints the config with Token and the EncodingAESKeys REDACTED.
func (cfg EventConfig) Format(f fmt.State, verb rune) { writeRedactedStruct(f, verb, cfg) }

// String returns the config as %v prints it.
func (cfg EventConfig) String() string { return fmt.Sprintf("%v", cfg) }

// GoString returns the config as %#v prints it.
func (cfg EventConfig) GoString() string { return fmt.Sprintf("%#v", cfg) }

// LogValue returns the config as %+v prints it.
func (cfg EventConfig) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", cfg)) }

// Format prints the config with Token and the EncodingAESKeys REDACTED.
func (cfg ComponentEventConfig) Format(f fmt.State, verb rune) { writeRedactedStruct(f, verb, cfg) }

// String returns the config as %v prints it.
func (cfg ComponentEventConfig) String() string { return fmt.Sprintf("%v", cfg) }

// GoString returns the config as %#v prints it.
func (cfg ComponentEventConfig) GoString() string { return fmt.Sprintf("%#v", cfg) }

// LogValue returns the config as %+v prints it.
func (cfg ComponentEventConfig) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("%+v", cfg))
}

func redactedIfSet(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// writeOpaque prints a type with hidden fields as name{k:v ...} (%+v),
// {v ...} (%v, %s) or &wxinvoice.name{k:"v", ...} (%#v).
func writeOpaque(f fmt.State, verb rune, name string, kv ...string) {
	var b strings.Builder
	sharp := verb == 'v' && f.Flag('#')
	plus := verb == 'v' && f.Flag('+')
	if sharp {
		b.WriteString("&wxinvoice." + name)
	} else {
		b.WriteString("&")
	}
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			if sharp {
				b.WriteString(", ")
			} else {
				b.WriteByte(' ')
			}
		}
		switch {
		case sharp:
			fmt.Fprintf(&b, "%s:%q", kv[i], kv[i+1])
		case plus:
			b.WriteString(kv[i] + ":" + kv[i+1])
		default:
			b.WriteString(kv[i+1])
		}
	}
	b.WriteByte('}')
	_, _ = f.Write([]byte(b.String()))
}

// isSecretField reports whether a config field holds a credential.
func isSecretField(name string) bool {
	return name == "Token" || strings.Contains(name, "Secret") || strings.HasSuffix(name, "AESKey") ||
		strings.HasSuffix(name, "Key") && !strings.HasSuffix(name, "PublicKey")
}

// writeRedactedStruct prints the struct v the way fmt would for verb, but
// with every string field that holds a credential printed as REDACTED (when
// set). Nested (embedded) structs are walked the same way.
func writeRedactedStruct(f fmt.State, verb rune, v any) {
	var b strings.Builder
	switch verb {
	case 'v', 's':
	default:
		fmt.Fprintf(&b, "%%!%c(wxinvoice.%s)", verb, reflect.TypeOf(v).Name())
		_, _ = f.Write([]byte(b.String()))
		return
	}
	sharp := verb == 'v' && f.Flag('#')
	plus := verb == 'v' && f.Flag('+')
	writeStruct(&b, reflect.ValueOf(v), sharp, plus)
	_, _ = f.Write([]byte(b.String()))
}

func writeStruct(b *strings.Builder, v reflect.Value, sharp, plus bool) {
	t := v.Type()
	if sharp {
		b.WriteString(t.String())
	}
	b.WriteByte('{')
	first := true
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if !first {
			if sharp {
				b.WriteString(", ")
			} else {
				b.WriteByte(' ')
			}
		}
		first = false
		if sharp || plus {
			b.WriteString(sf.Name + ":")
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.String && isSecretField(sf.Name):
			s := redactedIfSet(fv.String())
			if sharp {
				fmt.Fprintf(b, "%q", s)
			} else {
				b.WriteString(s)
			}
		case fv.Kind() == reflect.Struct && fv.Type().PkgPath() == t.PkgPath():
			writeStruct(b, fv, sharp, plus)
		case sharp:
			fmt.Fprintf(b, "%#v", fv.Interface())
		case plus:
			fmt.Fprintf(b, "%+v", fv.Interface())
		default:
			fmt.Fprintf(b, "%v", fv.Interface())
		}
	}
	b.WriteByte('}')
}

package main

import (
	"time"

	"github.com/spf13/cobra"
)

// tokenResult is what `token` prints.
type tokenResult struct {
	AppID     string
	Token     string     // masked unless --show
	Masked    bool       // Token is masked
	ExpiresAt *time.Time `json:",omitempty"` // unknown for WXINVOICE_ACCESS_TOKEN
	ExpiresIn string     `json:",omitempty"`
	Source    string     // stable_token, WXINVOICE_ACCESS_TOKEN or sandbox
}

func (a *app) tokenCmd() *cobra.Command {
	var show bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Check the credentials: fetch an access token and show its expiry",
		Long: `Fetches an access token with WECHAT_APPID and WECHAT_APPSECRET (POST /cgi-bin/stable_token,
normal mode: the token the account already has is returned, nothing is invalidated)
and prints it masked, with its expiry. --show prints the whole token: treat it as a
secret. A wrong secret exits 3 with errcode 40125 or 40001.`,
		Example: `  wxinvoice token
  TOKEN=$(wxinvoice token --show -o json | jq -r .Token)`,
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.getClient()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			tok, err := c.AccessToken(ctx)
			if err != nil {
				return err
			}
			res := &tokenResult{AppID: c.AppID(), Token: tok, Source: "stable_token"}
			switch {
			case a.sandbox:
				res.Source = "sandbox"
			case a.static:
				res.Source = envAccessToken
			}
			if t := a.tokens.lastToken(); t.Value == tok && !t.ExpiresAt.IsZero() {
				exp := t.ExpiresAt.Truncate(time.Second)
				res.ExpiresAt = &exp
				res.ExpiresIn = time.Until(t.ExpiresAt).Round(time.Second).String()
			}
			if show {
				return a.printTo(a.rawStdout, res)
			}
			res.Token, res.Masked = mask(tok), true
			return a.print(res)
		}),
	}
	cmd.Flags().BoolVar(&show, "show", false, "print the whole access token (a secret)")
	return cmd
}

// mask keeps the first and last four characters of a token, enough to tell
// two tokens apart and nothing to use.
func mask(s string) string {
	if len(s) < 16 {
		return "********"
	}
	return s[:4] + "…" + s[len(s)-4:]
}

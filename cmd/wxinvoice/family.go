package main

import "github.com/spf13/cobra"

// familyCmds returns the commands of the merchant, reimburser, title and
// nontax methods.
func (a *app) familyCmds() []*cobra.Command { return nil }

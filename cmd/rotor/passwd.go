package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// passwdCost is the bcrypt cost of hashes made by `rotor passwd`: about
// a quarter of a second on a current machine, slow for guessing.
const passwdCost = 12

// minPasswordLen is the shortest admin password passwd accepts.
const minPasswordLen = 8

func newPasswdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd",
		Short: "Print a bcrypt hash of a password, for admin.password_hash",
		Long: "passwd reads a password and prints its bcrypt hash, the value of\n" +
			"admin.password_hash (or ROTOR_ADMIN_PASSWORD_HASH). On a terminal it asks twice\n" +
			"without echo; otherwise it reads the first line of standard input:\n" +
			"  rotor passwd\n" +
			"  printf '%s\\n' \"$PASSWORD\" | rotor passwd\n" +
			"The password is never a flag: a command line is visible to every user of the\n" +
			"machine and lands in shell history.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var password []byte
			var err error
			if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				password, err = promptPassword(f, cmd.ErrOrStderr())
			} else {
				password, err = readPasswordLine(cmd.InOrStdin())
			}
			if err != nil {
				return err
			}
			hash, err := hashPassword(password)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), hash)
			return err
		},
	}
}

// promptPassword asks for the password twice on the terminal f, without
// echo, and returns it when both answers match.
func promptPassword(f *os.File, prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	first, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(prompt, "Again: ")
	second, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if string(first) != string(second) {
		return nil, errors.New("the passwords do not match")
	}
	return first, nil
}

// readPasswordLine returns the first line of r without its line ending.
func readPasswordLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read password from standard input: %w", err)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// hashPassword checks the password and returns its bcrypt hash.
func hashPassword(password []byte) (string, error) {
	if len(password) < minPasswordLen {
		return "", fmt.Errorf("the password must be at least %d characters", minPasswordLen)
	}
	// bcrypt reads only 72 bytes; a longer password would be cut silently.
	if len(password) > 72 {
		return "", errors.New("the password must be at most 72 bytes (bcrypt ignores the rest)")
	}
	h, err := bcrypt.GenerateFromPassword(password, passwdCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Command mailsandbox starts the mailtest harness's Dovecot on loopback
// (implicit TLS, a test CA), with one mailbox holding one MSSanté report
// whose CDA has no INS, for a Carnet that is not a Go test: the Windows
// carnet.exe under Wine (scripts/windows/wine-test.sh runs `carnet.exe
// import --once` against it). It prints, one per line, "imaps PORT",
// "ca FILE", "user ADDRESS", "password PASSWORD", then "ready", and stops
// Dovecot when its standard input closes or it gets SIGTERM/SIGINT.
// Synthetic data only. Linux, as root or as a user who may run Dovecot.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

func main() {
	if err := mailtest.Available(); err != nil {
		fmt.Fprintln(os.Stderr, "mailsandbox:", err)
		os.Exit(1)
	}
	srv, err := mailtest.Launch("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailsandbox:", err)
		os.Exit(1)
	}
	defer srv.Stop()
	user := srv.NewUser()
	p := app.Patient{BirthName: "TESTWINE", BirthGivenNames: "Hélène", BirthDate: "1970-01-01", Sex: app.SexFemale}
	zip, err := mailtest.XDM(mailtest.CDA{ID: "1.2.250.1.999.77.9001", Patient: p, NoINS: true, Payload: []byte("Résultat de démonstration")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailsandbox:", err)
		return
	}
	if err := srv.Deliver(user, "INBOX", mailtest.XDMMail(mailtest.Header{MessageID: "wine-1@labo-x.mssante.fr"}, zip, nil)); err != nil {
		fmt.Fprintln(os.Stderr, "mailsandbox:", err)
		return
	}
	fmt.Printf("imaps %d\nca %s\nuser %s\npassword %s\nready\n", srv.IMAPS, srv.CAFile, user, mailtest.Password)
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-done:
	case <-sigs:
	}
}

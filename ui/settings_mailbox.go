package ui

import (
	"context"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// mailboxCard is the settings card of the secure mailboxes (BAL) imported
// in the sync cycle: one row per mailbox with whether its password is
// sealed in the vault and whether read receipts are on, and a dialog to
// add, edit or remove one. The password typed in the dialog is sealed in
// the vault, never written to config.toml.
type mailboxCard struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	rows *fyne.Container
	add  *widget.Button
	msg  *widget.Label

	edit *mailboxDialog // while shown
}

func newMailboxCard(u *UI) *mailboxCard { return &mailboxCard{taskFrame: frame(u)} }

// buildUI returns the card; the rows are filled off the UI goroutine
// (whether each password is sealed is read from the vault).
func (c *mailboxCard) buildUI() fyne.CanvasObject {
	c.rows = container.NewVBox()
	c.msg = newMessage(widget.DangerImportance)
	c.add = widget.NewButtonWithIcon(tr("settings.mail.add"), theme.ContentAddIcon(), func() { c.showDialog(-1) })
	if !c.u.svc.CanEditConnection() {
		c.add.Disable()
	}
	c.reload()
	return widget.NewCard(tr("settings.mail"), tr("settings.mail.hint"),
		container.NewVBox(c.rows, container.NewHBox(c.add), c.msg))
}

// reload reads which mailboxes have a sealed password, then shows the rows.
func (c *mailboxCard) reload() {
	accounts := c.u.svc.Connection().Mailboxes
	svc := c.u.svc
	c.run(func(ctx context.Context) func() {
		sealed := make([]bool, len(accounts))
		for i, m := range accounts {
			sealed[i], _ = svc.MailPasswordSet(ctx, m.Address)
		}
		return func() { c.showRows(accounts, sealed) }
	})
}

// showRows shows one row per mailbox.
func (c *mailboxCard) showRows(accounts []app.MailAccount, sealed []bool) {
	c.rows.RemoveAll()
	if len(accounts) == 0 {
		c.rows.Add(widget.NewLabel(tr("settings.mail.none")))
	}
	editable := c.u.svc.CanEditConnection()
	last := map[string]app.MailboxStatus{}
	for _, st := range c.u.svc.SyncStatus().Mailboxes {
		last[strings.ToLower(st.Account)] = st
	}
	for i, m := range accounts {
		state := tr("settings.mail.password.missing")
		imp := widget.WarningImportance
		switch {
		case !m.NeedsPassword():
			state, imp = tr("settings.mail.password.card"), widget.LowImportance
		case sealed[i]:
			state, imp = tr("settings.mail.password.sealed"), widget.LowImportance
		}
		receipts := tr("settings.mail.receipts.off")
		if m.ReadReceipts {
			receipts = tr("settings.mail.receipts.on")
		}
		title := widget.NewLabelWithStyle(m.Address, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		detail := widget.NewLabel(m.Host + " — " + m.ImportedFolder() + " — " + receipts)
		detail.Importance = widget.LowImportance
		pw := widget.NewLabel(state)
		pw.Importance = imp
		outcome := widget.NewLabel("")
		if st, ok := last[strings.ToLower(m.Address)]; ok {
			outcome.SetText(lastImport(st))
			outcome.Importance = widget.LowImportance
			if st.Err != nil {
				outcome.Importance = widget.DangerImportance
			}
		} else {
			outcome.Hide()
		}
		i := i
		edit := widget.NewButtonWithIcon(tr("settings.mail.edit"), theme.DocumentCreateIcon(), func() { c.showDialog(i) })
		remove := widget.NewButtonWithIcon(tr("settings.mail.remove"), theme.DeleteIcon(), func() { c.confirmRemove(i) })
		if !editable {
			edit.Disable()
			remove.Disable()
		}
		c.rows.Add(container.NewBorder(nil, nil, nil, container.NewVBox(container.NewHBox(edit, remove)),
			container.NewVBox(title, detail, pw, outcome)))
	}
	c.rows.Refresh()
	relayoutCanvasOf(c.rows)
}

// lastImport says how the last import of a mailbox went.
func lastImport(st app.MailboxStatus) string {
	at := st.At.Local().Format("15:04")
	if st.Err != nil {
		reason := message(st.Err)
		if app.KindOf(st.Err) == app.ErrCredential {
			// Not the card: the mailbox refused its password, token or certificate.
			reason = tr("settings.mail.last.refused")
		}
		return tr("settings.mail.last.failed", map[string]any{"Time": at, "Reason": reason})
	}
	return tr("settings.mail.last.ok", map[string]any{"Time": at, "Filed": st.Summary.Filed, "Manual": st.Summary.Manual + st.Summary.Quarantined})
}

// showDialog shows the dialog of mailbox i (-1: a new one).
func (c *mailboxCard) showDialog(i int) {
	c.u.svc.Touch()
	accounts := c.u.svc.Connection().Mailboxes
	m := app.MailAccount{Security: app.MailImplicitTLS}
	if i >= 0 && i < len(accounts) {
		m = accounts[i]
	} else {
		i = -1
	}
	c.edit = newMailboxDialog(c, i, m)
	c.edit.show()
}

// confirmRemove removes mailbox i after confirmation, and forgets its
// sealed password.
func (c *mailboxCard) confirmRemove(i int) {
	accounts := c.u.svc.Connection().Mailboxes
	if i < 0 || i >= len(accounts) {
		return
	}
	addr := accounts[i].Address
	d := dialog.NewConfirm(tr("settings.mail.remove.title"), tr("settings.mail.remove.text", map[string]any{"Address": addr}),
		func(ok bool) {
			if !ok {
				return
			}
			conn := c.u.svc.Connection()
			if i >= len(conn.Mailboxes) || conn.Mailboxes[i].Address != addr {
				return // the list changed meanwhile
			}
			conn.Mailboxes = append(conn.Mailboxes[:i], conn.Mailboxes[i+1:]...)
			c.saveConnection(conn, addr, nil, true, nil)
		}, c.u.w)
	d.SetConfirmText(tr("settings.mail.remove"))
	d.Show()
}

// saveConnection seals secret for account, then saves conn (forgets the
// password after saving when forget and no other mailbox of conn uses the
// account), off the UI goroutine; done runs on the UI goroutine with the
// error. The password is sealed first: saving the connection wakes the
// sync cycle, whose import of a new mailbox must find it.
func (c *mailboxCard) saveConnection(conn app.Connection, account string, secret []byte, forget bool, done func(error)) {
	svc := c.u.svc
	c.run(func(ctx context.Context) func() {
		var err error
		if len(secret) > 0 {
			err = svc.SetMailPassword(ctx, account, secret)
		}
		if err == nil {
			err = svc.SaveConnection(ctx, conn)
		}
		if err == nil && forget && !listsAccount(conn, account) {
			err = svc.SetMailPassword(ctx, account, nil)
		}
		app.Wipe(secret)
		return func() {
			if done != nil {
				done(err)
			}
			if err != nil {
				setMessage(c.msg, connectionProblem(err))
				return
			}
			setMessage(c.msg, "")
			c.reload()
		}
	})
}

func (c *mailboxCard) dispose() {
	c.end()
	if c.edit != nil {
		c.edit.dialog.Hide()
		c.edit.password.SetText("")
		c.edit = nil
	}
}

// mailboxDialog edits one mailbox account.
type mailboxDialog struct {
	card  *mailboxCard
	index int // in the connection's list; -1 for a new mailbox
	orig  app.MailAccount

	address, host, port, ca, folder, moveTo *entry
	security, auth, mark                    *widget.Select
	password                                *entry
	receipts                                *widget.Check
	smtpHost, smtpPort                      *entry
	smtpSecurity                            *widget.Select
	smtpRows, moveRow                       *fyne.Container
	msg                                     *widget.Label
	save                                    *widget.Button

	dialog dialog.Dialog
}

// The choices of the dialog's selects, as stored and as shown.
var (
	securityChoices = []app.MailSecurity{app.MailImplicitTLS, app.MailStartTLS}
	authChoices     = []app.MailAuth{app.MailAuthAuto, app.MailAuthPlain, app.MailAuthLogin, app.MailAuthExternal, app.MailAuthOAuthBearer}
	markChoices     = []string{app.MarkKeyword, app.MarkMove}
)

func securityName(s app.MailSecurity) string {
	if s == app.MailStartTLS {
		return tr("settings.mail.security.starttls")
	}
	return tr("settings.mail.security.implicit")
}

func authName(a app.MailAuth) string {
	switch a {
	case app.MailAuthPlain:
		return tr("settings.mail.auth.plain")
	case app.MailAuthLogin:
		return tr("settings.mail.auth.login")
	case app.MailAuthExternal:
		return tr("settings.mail.auth.external")
	case app.MailAuthOAuthBearer:
		return tr("settings.mail.auth.oauthbearer")
	}
	return tr("settings.mail.auth.auto")
}

func markName(m string) string {
	if m == app.MarkMove {
		return tr("settings.mail.mark.move")
	}
	return tr("settings.mail.mark.keyword")
}

// choiceNames maps the choices through name.
func choiceNames[T any](choices []T, name func(T) string) []string {
	out := make([]string, len(choices))
	for i, c := range choices {
		out[i] = name(c)
	}
	return out
}

// chosen returns the choice whose name is selected (the first when none).
func chosen[T any](choices []T, name func(T) string, selected string) T {
	for _, c := range choices {
		if name(c) == selected {
			return c
		}
	}
	return choices[0]
}

func newMailboxDialog(card *mailboxCard, index int, m app.MailAccount) *mailboxDialog {
	u := card.u
	d := &mailboxDialog{card: card, index: index, orig: m}
	d.address = newEntry(u, "dr.nom@clinique.mssante.fr")
	d.address.SetText(m.Address)
	d.host = newEntry(u, "imap.operateur.mssante.fr")
	d.host.SetText(m.Host)
	d.port = newEntry(u, tr("settings.mail.port.default"))
	d.port.SetText(portText(m.Port))
	d.ca = newEntry(u, tr("settings.path.optional"))
	d.ca.SetText(m.CAFile)
	d.folder = newEntry(u, "INBOX")
	d.folder.SetText(m.Folder)
	d.moveTo = newEntry(u, "Carnet/Importés")
	d.moveTo.SetText(m.MoveTo)
	d.security = widget.NewSelect(choiceNames(securityChoices, securityName), nil)
	sec := m.Security
	if sec == "" {
		sec = app.MailImplicitTLS
	}
	d.security.SetSelected(securityName(sec))
	d.auth = widget.NewSelect(choiceNames(authChoices, authName), nil)
	d.auth.SetSelected(authName(m.Auth))
	d.moveRow = container.NewVBox(widget.NewForm(widget.NewFormItem(tr("settings.mail.moveto"), d.moveTo)))
	d.mark = widget.NewSelect(choiceNames(markChoices, markName), func(name string) {
		show(d.moveRow, name == markName(app.MarkMove))
		relayoutCanvasOf(d.moveRow)
	})
	d.mark.SetSelected(markName(m.Mark))
	show(d.moveRow, m.Mark == app.MarkMove)
	d.password = newPasswordEntry(u, tr("settings.mail.password.placeholder"))
	d.smtpHost = newEntry(u, "smtp.operateur.mssante.fr")
	d.smtpHost.SetText(m.SMTPHost)
	d.smtpPort = newEntry(u, tr("settings.mail.smtp.port.default"))
	d.smtpPort.SetText(portText(m.SMTPPort))
	d.smtpSecurity = widget.NewSelect(choiceNames(securityChoices, securityName), nil)
	ssec := m.SMTPSecurity
	if ssec == "" {
		ssec = app.MailStartTLS
	}
	d.smtpSecurity.SetSelected(securityName(ssec))
	d.smtpRows = container.NewVBox(widget.NewForm(
		widget.NewFormItem(tr("settings.mail.smtp.host"), d.smtpHost),
		widget.NewFormItem(tr("settings.mail.smtp.port"), d.smtpPort),
		widget.NewFormItem(tr("settings.mail.smtp.security"), d.smtpSecurity),
	))
	d.receipts = widget.NewCheck(tr("settings.mail.receipts"), func(on bool) {
		show(d.smtpRows, on)
		relayoutCanvasOf(d.smtpRows)
	})
	d.receipts.SetChecked(m.ReadReceipts)
	show(d.smtpRows, m.ReadReceipts)
	d.msg = newMessage(widget.DangerImportance)
	d.save = widget.NewButtonWithIcon(tr("settings.save"), theme.DocumentSaveIcon(), d.submit)
	cancel := widget.NewButtonWithIcon(tr("dialog.cancel"), theme.CancelIcon(), func() { d.close() })

	form := widget.NewForm(
		&widget.FormItem{Text: tr("settings.mail.address"), Widget: d.address},
		&widget.FormItem{Text: tr("settings.mail.host"), Widget: d.host},
		&widget.FormItem{Text: tr("settings.mail.port"), Widget: d.port},
		&widget.FormItem{Text: tr("settings.mail.security"), Widget: d.security, HintText: tr("settings.mail.security.hint")},
		&widget.FormItem{Text: tr("settings.service.ca"), Widget: d.ca},
		&widget.FormItem{Text: tr("settings.mail.auth"), Widget: d.auth},
		&widget.FormItem{Text: tr("settings.mail.password"), Widget: d.password, HintText: tr("settings.mail.password.hint")},
		&widget.FormItem{Text: tr("settings.mail.folder"), Widget: d.folder},
		&widget.FormItem{Text: tr("settings.mail.mark"), Widget: d.mark},
	)
	content := container.NewVBox(form, d.moveRow, d.receipts, widget.NewLabel(tr("settings.mail.receipts.hint")), d.smtpRows, d.msg,
		container.NewHBox(layout.NewSpacer(), cancel, d.save))
	title := tr("settings.mail.edit.title")
	if index < 0 {
		title = tr("settings.mail.add.title")
	}
	d.dialog = dialog.NewCustomWithoutButtons(title, container.NewVScroll(content), u.w)
	d.dialog.Resize(fyne.NewSize(640, 600))
	return d
}

func (d *mailboxDialog) show() { d.dialog.Show() }

// close hides the dialog and clears the password.
func (d *mailboxDialog) close() {
	d.password.SetText("")
	d.dialog.Hide()
	if d.card.edit == d {
		d.card.edit = nil
	}
}

// account returns the account the fields describe; ok is false (and the
// message set) when a port is not a number.
func (d *mailboxDialog) account() (app.MailAccount, bool) {
	m := app.MailAccount{
		Address:      strings.TrimSpace(d.address.Text),
		Host:         strings.TrimSpace(d.host.Text),
		Security:     chosen(securityChoices, securityName, d.security.Selected),
		CAFile:       strings.TrimSpace(d.ca.Text),
		Auth:         chosen(authChoices, authName, d.auth.Selected),
		Folder:       strings.TrimSpace(d.folder.Text),
		Mark:         chosen(markChoices, markName, d.mark.Selected),
		MoveTo:       strings.TrimSpace(d.moveTo.Text),
		ReadReceipts: d.receipts.Checked,
	}
	if m.Mark == app.MarkKeyword {
		m.Mark, m.MoveTo = "", ""
	}
	if m.ReadReceipts {
		m.SMTPHost = strings.TrimSpace(d.smtpHost.Text)
		m.SMTPSecurity = chosen(securityChoices, securityName, d.smtpSecurity.Selected)
	}
	for _, p := range []struct {
		e   *entry
		dst *int
	}{{d.port, &m.Port}, {d.smtpPort, &m.SMTPPort}} {
		text := strings.TrimSpace(p.e.Text)
		if text == "" || (p.dst == &m.SMTPPort && !m.ReadReceipts) {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			setMessage(d.msg, tr("settings.problem.port"))
			return m, false
		}
		*p.dst = n
	}
	return m, true
}

// submit validates the account within the whole connection and saves it,
// with the password typed (sealed in the vault) when there is one.
func (d *mailboxDialog) submit() {
	m, ok := d.account()
	if !ok {
		return
	}
	conn := d.card.u.svc.Connection()
	if d.index >= 0 && d.index < len(conn.Mailboxes) {
		conn.Mailboxes[d.index] = m
	} else {
		conn.Mailboxes = append(conn.Mailboxes, m)
	}
	if err := conn.Validate(); err != nil {
		setMessage(d.msg, connectionProblem(err))
		return
	}
	secret := []byte(d.password.Text)
	if !m.NeedsPassword() {
		secret = nil
	}
	// A renamed account: the old address's password is forgotten; the
	// new one needs its own.
	renamed := d.index >= 0 && !strings.EqualFold(d.orig.Address, m.Address)
	d.save.Disable()
	setMessage(d.msg, "")
	card := d.card
	card.saveConnection(conn, m.Address, secret, false, func(err error) {
		d.save.Enable()
		if err != nil {
			setMessage(d.msg, connectionProblem(err))
			return
		}
		if renamed && !listsAccount(conn, d.orig.Address) {
			card.forget(d.orig.Address)
		}
		d.close()
	})
}

// listsAccount reports whether a mailbox of conn logs in as account (the
// sealed passwords are per account, and one account may be listed with
// several folders).
func listsAccount(conn app.Connection, account string) bool {
	for _, m := range conn.Mailboxes {
		if strings.EqualFold(strings.TrimSpace(m.Address), strings.TrimSpace(account)) {
			return true
		}
	}
	return false
}

// forget forgets the sealed password of an account no longer listed.
func (c *mailboxCard) forget(account string) {
	svc := c.u.svc
	c.run(func(ctx context.Context) func() {
		err := svc.SetMailPassword(ctx, account, nil)
		return func() {
			if err != nil {
				setMessage(c.msg, message(err))
			}
		}
	})
}

package ui

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// connectionCard is the settings card of the central record service, the
// practitioner's credential and the structure: editable when the service
// has a connection store (config.toml), read-only otherwise. A change
// applies at the next sign-in.
type connectionCard struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	url, ca          *entry
	credKind         *widget.RadioGroup
	module, slot     *entry
	p12              *entry
	cardRows, p12Row *fyne.Container
	facility         *entry
	save             *widget.Button
	msg              *widget.Label
}

// credentialChoices are the credential kinds offered, in order.
var credentialChoices = []app.CredentialKind{app.CredentialCard, app.CredentialFile, app.CredentialNone}

// credentialName names a credential kind in the current language.
func credentialName(k app.CredentialKind) string {
	switch k {
	case app.CredentialCard:
		return tr("settings.credential.card")
	case app.CredentialFile:
		return tr("settings.credential.file")
	}
	return tr("settings.credential.none")
}

// credentialLabel names the configured credential for the sign-in screen:
// "carte CPS", or the certificate file's name.
func credentialLabel(c app.CredentialConfig) string {
	switch c.Kind {
	case app.CredentialCard:
		return tr("signin.credential.card")
	case app.CredentialFile:
		name := c.File
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		return name
	}
	return ""
}

func newConnectionCard(u *UI) *connectionCard { return &connectionCard{taskFrame: frame(u)} }

// buildUI returns the card.
func (c *connectionCard) buildUI() fyne.CanvasObject {
	conn := c.u.svc.Connection()
	if !c.u.svc.CanEditConnection() {
		return c.readOnly(conn)
	}
	c.url = newEntry(c.u, "https://…/fhir")
	c.url.SetText(conn.ServiceURL)
	c.ca = newEntry(c.u, tr("settings.path.optional"))
	c.ca.SetText(conn.ServiceCA)
	c.module = newEntry(c.u, app.DefaultCardModule())
	c.module.SetText(conn.Credential.Module)
	c.slot = newEntry(c.u, tr("settings.credential.slot.placeholder"))
	c.slot.SetText(conn.Credential.Slot)
	c.p12 = newEntry(c.u, "/home/…/praticien.p12")
	c.p12.SetText(conn.Credential.File)
	c.facility = newEntry(c.u, "SA04")
	c.facility.SetText(conn.FacilityType)

	names := make([]string, len(credentialChoices))
	for i, k := range credentialChoices {
		names[i] = credentialName(k)
	}
	c.credKind = widget.NewRadioGroup(names, func(string) { c.showCredential() })
	c.credKind.Required = true
	c.credKind.Selected = credentialName(conn.Credential.Kind)

	c.cardRows = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.credential.module"), Widget: c.module, HintText: tr("settings.credential.module.hint")},
		&widget.FormItem{Text: tr("settings.credential.slot"), Widget: c.slot},
	))
	c.p12Row = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.credential.p12"), Widget: c.p12, HintText: tr("settings.credential.p12.hint")},
	))
	c.save = widget.NewButtonWithIcon(tr("settings.save"), theme.DocumentSaveIcon(), c.saveConnection)
	c.msg = newMessage(widget.DangerImportance)
	form := widget.NewForm(
		&widget.FormItem{Text: tr("settings.service.url"), Widget: c.url, HintText: tr("settings.service.url.hint")},
		&widget.FormItem{Text: tr("settings.service.ca"), Widget: c.ca, HintText: tr("settings.service.ca.hint")},
		&widget.FormItem{Text: tr("settings.credential"), Widget: c.credKind},
	)
	structure := widget.NewForm(&widget.FormItem{Text: tr("settings.structure.type"), Widget: c.facility, HintText: tr("settings.structure.type.hint")})
	c.showCredential()
	return widget.NewCard(tr("settings.service"), tr("settings.service.edit.hint"),
		container.NewVBox(form, c.cardRows, c.p12Row, structure, container.NewHBox(c.save), c.msg))
}

// readOnly shows the connection without editing (no connection store).
func (c *connectionCard) readOnly(conn app.Connection) fyne.CanvasObject {
	url := conn.ServiceURL
	if url == "" {
		url = tr("settings.service.none")
	}
	cred := credentialLabel(conn.Credential)
	if cred == "" {
		cred = tr("settings.credential.none")
	}
	form := widget.NewForm(
		widget.NewFormItem(tr("settings.service.url"), widget.NewLabel(url)),
		widget.NewFormItem(tr("settings.credential"), widget.NewLabel(cred)),
	)
	return widget.NewCard(tr("settings.service"), tr("settings.service.hint"), form)
}

// kind returns the credential kind chosen.
func (c *connectionCard) kind() app.CredentialKind {
	for _, k := range credentialChoices {
		if credentialName(k) == c.credKind.Selected {
			return k
		}
	}
	return app.CredentialNone
}

// showCredential shows the fields of the chosen credential kind.
func (c *connectionCard) showCredential() {
	if c.cardRows == nil {
		return
	}
	k := c.kind()
	show(c.cardRows, k == app.CredentialCard)
	show(c.p12Row, k == app.CredentialFile)
	relayoutCanvasOf(c.cardRows)
}

// connection returns the connection the fields describe, over the current
// one (its mailboxes stay).
func (c *connectionCard) connection() app.Connection {
	conn := c.u.svc.Connection()
	conn.ServiceURL = strings.TrimSpace(c.url.Text)
	conn.ServiceCA = strings.TrimSpace(c.ca.Text)
	conn.FacilityType = strings.ToUpper(strings.TrimSpace(c.facility.Text))
	conn.Credential = app.CredentialConfig{Kind: c.kind()}
	switch conn.Credential.Kind {
	case app.CredentialCard:
		conn.Credential.Module, conn.Credential.Slot = strings.TrimSpace(c.module.Text), strings.TrimSpace(c.slot.Text)
		if conn.Credential.Module == "" {
			conn.Credential.Module = app.DefaultCardModule() // the placeholder shown
		}
	case app.CredentialFile:
		conn.Credential.File = strings.TrimSpace(c.p12.Text)
	}
	return conn
}

// saveConnection validates the fields here (for a precise message) and
// saves the connection off the UI goroutine.
func (c *connectionCard) saveConnection() {
	conn := c.connection()
	c.msg.Importance = widget.DangerImportance
	if err := conn.Validate(); err != nil {
		setMessage(c.msg, connectionProblem(err))
		return
	}
	svc := c.u.svc
	saving := form{frame: &c.taskFrame, msg: c.msg, inputs: []fyne.Disableable{c.save}, explain: connectionProblem}
	saving.send(func(ctx context.Context) error { return svc.SaveConnection(ctx, conn) }, func() string {
		return tr("settings.service.saved")
	})
}

func (c *connectionCard) dispose() { c.end() }

// connectionProblem translates a refused connection: which field is at
// fault (app.ConnectionError), in the current language.
func connectionProblem(err error) string {
	var ce *app.ConnectionError
	if errors.As(err, &ce) {
		if key, ok := connectionProblems[ce.Field]; ok {
			return tr(key)
		}
	}
	return message(err)
}

// connectionProblems are the messages of the fields a person can get
// wrong in the settings (the others are never offered there).
var connectionProblems = map[app.ConnectionField]string{
	app.FieldHTTPS:      "settings.problem.https",
	app.FieldServiceURL: "settings.problem.url",
	app.FieldModule:     "settings.problem.module",
	app.FieldP12:        "settings.problem.p12",
	app.FieldFacility:   "settings.problem.facility",
	app.FieldSMTP:       "settings.problem.smtp",
	app.FieldTwice:      "settings.problem.twice",
	app.FieldAddress:    "settings.problem.address",
	app.FieldHost:       "settings.problem.host",
	app.FieldPort:       "settings.problem.port",
	app.FieldSecurity:   "settings.problem.security",
	app.FieldFolder:     "settings.problem.folder",
}

// show shows or hides o.
func show(o fyne.CanvasObject, visible bool) {
	if visible {
		o.Show()
	} else {
		o.Hide()
	}
}

// portText is a port for an entry: empty when 0 (the default).
func portText(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

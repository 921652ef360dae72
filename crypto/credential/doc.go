// Package credential opens the practitioner's credential — a CPS card through
// PKCS#11, or a PKCS#12 certificate file on machines without a card reader —
// and gives what the rest of Carnet needs from it: a tls.Certificate for
// mutual TLS with the central record service, the crypto.Signer behind it
// (to sign access assertions), the leaf certificate, and the practitioner's
// identity read from that certificate (RPPS id, name, profession, specialty,
// structure).
//
// # Which certificate fields are read
//
// ParseIdentity reads the subject of the leaf certificate only; the layout
// follows the IGC-Santé profiles for CPx cards as far as they are known to us,
// and every field is optional (a missing field gives an empty value, never an
// error or a panic):
//
//   - RPPS (the national PS id, "8" + RPPS, or "0" + ADELI): the subject
//     serialNumber (2.5.4.5) if present, else the UID attribute
//     (0.9.2342.19200300.100.1.1), else the first token of the CN that looks
//     like a national id. A bare 11-digit RPPS is given its "8" prefix.
//   - Name: the CN with any national-id token removed (a CN of the form
//     "810001234567/Jean DUPONT" gives "Jean DUPONT"); else givenName (2.5.4.42)
//     and surname (2.5.4.4) joined by a space.
//   - Profession (TRE_G15): the title attribute (2.5.4.12), either a code
//     ("10", "G15_10") or a French label ("Médecin", mapped for the common
//     professions). Specialty (TRE_R38): the part after a "/" in title
//     ("10/SM26", "G15_10/SM26", the CI-SIS notation).
//   - Structure: ID from the first OU (2.5.4.11) that starts with a digit
//     (the structure's national id, e.g. "1" + FINESS, "3" + SIRET, kept
//     verbatim), else the first OU; Name from O (2.5.4.10).
//   - Roles: the businessCategory attribute (2.5.4.15), one role per value
//     (e.g. "regulation"). This is a Carnet convention used by the sandbox's
//     test certificates; real CPS certificates carry no role.
//
// What rests on assumption: the exact IGC-Santé placement of the national id
// (serialNumber versus CN) and of the profession (title as code or label) has
// not been checked against a real CPS certificate; the parser accepts both
// forms. A real card's specialty (savoir-faire) is in the card's own data
// files, not in its certificate, so it is usually empty with a real card.
//
// # Errors
//
// Errors read "credential: …" and never contain the PIN. The sentinel
// errors ErrPIN, ErrPINLocked, ErrPINFinalTry, ErrExpired, ErrCardRemoved,
// ErrFileMode and ErrNoCgo are matched with errors.Is.
//
// # Sub-packages
//
// credtest is a test certification authority issuing practitioner
// certificates with this subject layout, for tests and for the sandbox
// central record service.
package credential

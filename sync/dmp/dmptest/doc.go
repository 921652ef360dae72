// Package dmptest is the sandbox central record service: the same wire
// protocol as the DMP's FHIR interface (IHE MHD as profiled by the French
// PDSm, PDQm, plus Carnet's documented additions, see README.md), its access
// rules, and synthetic patients and documents, deterministic by seed.
// Tests, demo mode and `carnet sandbox` use it. It never imports the client
// (sync/dmp), so the two cannot agree on a mistake by sharing code; both
// share only the wire types of sync/dmp/fhir.
//
// # Running it
//
// In tests: NewTLS(t, Options{…}) serves over real TLS on a loopback port
// with client certificates required, and gives the base URL, the CA pool and
// each practitioner's credential (tls.Certificate and crypto.Signer).
// `carnet sandbox` calls Main; demo mode calls Start.
//
// # The synthetic population
//
// Patients(seed, n) gives the identities. Record rules by index i
// (0-based): no record when i%40 == 39; closed when i%50 == 49; the
// generaliste is médecin traitant and authorised unless i%4 == 3; the
// anesthesiste is authorised when i is even, expired when i%10 == 4; the
// bloque practitioner is authorised everywhere but blocked when i%3 == 0;
// the infirmiere is authorised when i%5 == 0; the regulateur and the
// opticien never are. Documents (10 to 80 per patient over the five years
// before Options.Epoch) are generated on first access: three VSM versions
// (each replacing the previous), the Assurance Maladie reimbursement
// history (a current and a superseded version, 24 months of dispensings;
// a living document: Server.AddDispensing replaces it by a new version
// dated now, the dispensing included),
// consultation notes, discharge letters, lab reports, imaging reports as N1
// PDFs, pre-anesthesia consultation reports; about one in twelve masked to
// professionals. Submissions land at 08:00 UTC, so many share a timestamp.
//
// Feeding needs a qualified identity: the sandbox takes the synthetic
// patient's identity status as the truth of it.
package dmptest

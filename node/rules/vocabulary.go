package rules

// The vocabulary of the rules: every event kind, every state, every kind of
// record and its key. Kinds are append only: a kind once shipped keeps its
// name and payload forever, because events are stored and replicated as
// they are.

// Event kinds.
const (
	// Catalog and applications.
	KindCatalogPublished      = "catalog.published"
	KindMatterPublished       = "matter.published"
	KindMatterWithdrawn       = "matter.withdrawn"
	KindAppAccepted           = "app.accepted"
	KindAppForwarded          = "app.forwarded"
	KindAppReceived           = "app.received"
	KindAppSupplementRequest  = "app.supplement_requested"
	KindAppSupplemented       = "app.supplemented"
	KindAppMaterialsSupplied  = "app.materials_supplied"
	KindAppDecided            = "app.decided"
	KindAppDelivered          = "app.delivered"
	KindAppRated              = "app.rated"
	KindAppWithdrawn          = "app.withdrawn"
	KindAuditIdentityRevealed = "audit.identity_revealed"

	// Delegated powers (事权下放).
	KindDelegationGranted = "delegation.granted"
	KindDelegationRevoked = "delegation.revoked"
	KindAppRerouted       = "app.rerouted"

	// Composite applications (一件事): one task per part.
	KindTaskCreated = "task.created"
	KindTaskDecided = "task.decided"

	// Requests to the unit holding an application.
	KindRequestMade     = "request.made"
	KindRequestAnswered = "request.answered"

	// 好差评 follow-ups.
	KindFollowUpOpened     = "followup.opened"
	KindFollowUpCalledBack = "followup.called_back"
	KindFollowUpFixed      = "followup.fixed"

	// Township classes, menus (按需点单) and the negative list.
	KindClassPublished    = "class.published"
	KindOrderPlaced       = "order.placed"
	KindNegativePublished = "negative.published"

	// Operator accounts (written by the county) and what their owners do.
	KindAccountCreated       = "account.created"
	KindAccountChanged       = "account.changed"
	KindAccountDisabled      = "account.disabled"
	KindAccountEnabled       = "account.enabled"
	KindAccountPasswordReset = "account.password_reset"
	KindAccountTOTPReset     = "account.totp_reset"
	KindPasswordChanged      = "account.password_changed"
	KindSignIn               = "session.login"
	KindSignInFailed         = "session.login_failed"

	// A certificate the county's CA revoked.
	KindCertRevoked = "cert.revoked"
	// A new box's request for a certificate, and the CA's answer.
	KindEnrollRequested = "enroll.requested"
	KindEnrollAnswered  = "enroll.answered"
	// An online backup of a node's store was taken.
	KindBackupTaken = "audit.backup_taken"
	// A unit's name and phone, set by the county.
	KindUnitNamed = "unit.named"
	// A window refused to accept an application (不予受理).
	KindWindowRefused = "window.refused"
)

// Application states, as in DESIGN.md.
const (
	StateAccepted            = "accepted"
	StateForwarded           = "forwarded"
	StateReceived            = "received"
	StateSupplementRequested = "supplement_requested"
	StateSupplemented        = "supplemented"
	StateApproved            = "approved"
	StateRejected            = "rejected"
	StateDelivered           = "delivered"
	StateRated               = "rated"
	StateWithdrawn           = "withdrawn"
)

// StateLabels are the Chinese names of the states.
var StateLabels = map[string]string{
	StateAccepted:            "已受理",
	StateForwarded:           "已转报",
	StateReceived:            "已接收",
	StateSupplementRequested: "待补正",
	StateSupplemented:        "已补正",
	StateApproved:            "已办结（准予）",
	StateRejected:            "已办结（不予）",
	StateDelivered:           "已出件",
	StateRated:               "已评价",
	StateWithdrawn:           "已撤回",
}

// States lists the states in lifecycle order.
var States = []string{StateAccepted, StateForwarded, StateReceived, StateSupplementRequested,
	StateSupplemented, StateApproved, StateRejected, StateDelivered, StateRated, StateWithdrawn}

// StateLabel is a state's Chinese name (the code itself if unknown).
func StateLabel(s string) string {
	if l, ok := StateLabels[s]; ok {
		return l
	}
	return s
}

// Task states.
const (
	TaskOpen     = "open"
	TaskApproved = "approved"
	TaskRejected = "rejected"
)

// Request kinds and states.
const (
	RequestWithdraw = "withdraw"
	RequestSupply   = "supply"
	RequestOpen     = "open"
	RequestDone     = "done"
	RequestRefused  = "refused"
)

// Follow-up states.
const (
	FollowUpOpen       = "open"
	FollowUpCalledBack = "called_back"
	FollowUpFixed      = "fixed"
)

// Follow-up limits: a rating at or below lowRating opens a follow-up, called
// back within callbackDays and fixed within fixDays working days.
const (
	lowRating    = 2
	callbackDays = 1
	fixDays      = 15
)

// Record keys: the kind, a slash, the record's id.
const (
	recCatalog    = "catalog"
	recMatter     = "matter/"
	recApp        = "app/"
	recAudit      = "audit/"
	recDelegation = "delegation/"
	recTask       = "task/"
	recRequest    = "request/"
	recFollowUp   = "followup/"
	recClass      = "class/"
	recOrder      = "order/"
	recNegative   = "negative"
	recAccount    = "acct/"
	recPassword   = "pass/"
	recSignIn     = "signin/"
	recRevoked    = "revoked/"
	recEnroll     = "enroll/"
	recEnrolled   = "enrolled/"
	recBackups    = "backups/"
	recUnit       = "unit/"
	recRefusal    = "refusal/"
)

func matterKey(code string) string       { return recMatter + code }
func appKey(id string) string            { return recApp + id }
func auditKey(id string) string          { return recAudit + id }
func delegationKey(id string) string     { return recDelegation + id }
func taskKey(appID, part string) string  { return recTask + appID + "/" + part }
func requestKey(appID, id string) string { return recRequest + appID + "/" + id }
func followUpKey(appID string) string    { return recFollowUp + appID }
func classKey(code string) string        { return recClass + code }
func orderKey(township string) string    { return recOrder + township }
func unitKey(code string) string         { return recUnit + code }
func refusalKey(id string) string        { return recRefusal + id }

package handler

import "errors"

// Sentinel errors. A PreOrderConfig.Resolve returns the first three
// (wrapped, with a message for the buyer) to choose the HTTP status.
var (
	// ErrOrderNotFound: the business order does not exist (404).
	ErrOrderNotFound = errors.New("handler: order not found")
	// ErrOrderNotPayable: the business order cannot be paid now, for
	// example it is cancelled or already paid elsewhere (409).
	ErrOrderNotPayable = errors.New("handler: order not payable")
	// ErrOrderInvalid: the request does not fit the business order, for
	// example a channel it does not allow (422).
	ErrOrderInvalid = errors.New("handler: order invalid")

	// ErrMismatch: a validly signed message disagrees with the stored
	// order (merchant, amount, state or transaction); an Alert fired.
	ErrMismatch = errors.New("handler: message does not match the order")
	// ErrMalformed: the notification request is not a well-formed form
	// POST of one value per name.
	ErrMalformed = errors.New("handler: malformed notification")
	// ErrHook: the fulfilment hook failed or panicked.
	ErrHook = errors.New("handler: fulfilment hook failed")
	// ErrLeaseLost is the cause (context.Cause) of the fulfilment hook's
	// context ending because the order's lease was lost: another holder
	// may take it, so the hook should stop.
	ErrLeaseLost = errors.New("handler: fulfilment lease lost")
	// ErrUnsafeLocker: NewSettler was given no Locker, its Store is not
	// one, and SingleProcess is not set; see SettlerConfig.Locker.
	ErrUnsafeLocker = errors.New("handler: no shared Locker: set SettlerConfig.Locker, use a Store that is a store.Locker, or set SingleProcess")
)

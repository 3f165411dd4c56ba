"""Who the caller is and what it may do: tokens (`tokens`), UI sign-in cookies (`cookies`), the
one gatekeeper every credential passes (`gatekeeper`), the visibility rule (`visibility`)
and argument checks (`validation`). No I/O of its own beyond an injected revocation check."""

"""Token generation on a prefilled cache: sampling, plain decoding and speculative decoding."""

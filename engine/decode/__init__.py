"""Token generation on a prefilled cache: the KV caches (`cache`), the sampler (`sampling`), plain decoding
(`generation`) and speculative decoding with the MTP drafter (`speculative`)."""

//! The Socialist Millionaires' Protocol of OTRv3 over the RFC 3526 1536-bit group.

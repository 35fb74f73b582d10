//! OTRv3 long-term keys: DSA-1024/160.

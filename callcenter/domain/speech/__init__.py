"""Speech: telephone audio decoding, French understanding, respect checks, model installs."""

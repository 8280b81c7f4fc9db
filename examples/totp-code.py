"""Print the six-digit code an authenticator app shows now for a two-step sign-in key.

.venv/bin/python examples/totp-code.py JBSWY3DPEHPK3PXP
"""

from __future__ import annotations

import sys

import pyotp

if __name__ == "__main__":
    print(pyotp.TOTP(sys.argv[1]).now())

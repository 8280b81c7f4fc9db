"""Print the code in the newest mail to an address, waiting a few seconds for it.

Serve with `MAIL_BACKEND=file` and each mail lands in `var/mail` as an `.eml`
file (`MAIL_FILE_DIR` moves it); this reads it as a person reads their inbox.

    python3 examples/mail-code.py sam@example.com "Confirm your email"
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import sys
import time
from pathlib import Path

CODE = re.compile(r"this code (?:into|in) the app: (\S+)")
WAIT_SECONDS = 15.0


def newest_code(folder: Path, address: str, subject: str) -> str | None:
    for path in sorted(folder.glob("*.eml"), reverse=True):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if mail["To"] == address and str(mail["Subject"]).startswith(subject):
            body = mail.get_body(("plain",))
            found = CODE.search(body.get_content() if body else "")
            return found.group(1) if found else None
    return None


def main() -> int:
    address, subject = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    folder = Path(os.environ.get("MAIL_FILE_DIR") or "var/mail")
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        code = newest_code(folder, address, subject)
        if code:
            print(code)
            return 0
        time.sleep(0.2)
    print(f"no mail {subject!r} to {address} in {folder}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

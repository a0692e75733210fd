"""Production: the documented VPS (infrastructure document, section 2.1).

Never run a deploy against this from a test. CI and the sandbox use
`.sandbox/inventory.py`, written by `python -m tests.sandbox up`.
"""

production = [
    (
        "insta.tiblings.com",
        {
            "ssh_hostname": "147.93.112.223",
            "ssh_user": "root",
            # Fill in the team's admin addresses before the first deploy: the
            # firewall refuses to lock SSH to a list that excludes you.
            "admin_ips": [],
            # The operator's age public key; the deploy refuses to run without
            # it (docs/operations.md, Backups). The private key stays with the
            # operator: backup_identity_file is its path on the operator's machine.
            "backup_recipient": None,
            "backup_identity_file": None,
        },
    ),
]

"""Oracle for short-term Bedrock API keys: the `aws-bedrock-token-generator` package's own token for fixed
credentials and a fixed clock.

Usage: python -m bpemu.token_oracle ACCESS_KEY SECRET_KEY SESSION_TOKEN|- REGION EXPIRES_SECONDS UNIX_TIME
"""

import datetime
import sys
from unittest import mock

from aws_bedrock_token_generator.token_generator import _generate_token
from botocore.credentials import Credentials


def main(argv: list[str]) -> None:
    access_key, secret_key, token, region, expires, unix_time = argv
    credentials = Credentials(access_key, secret_key, None if token == "-" else token)
    now = datetime.datetime.fromtimestamp(int(unix_time), datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        print(_generate_token(credentials, region, int(expires)))


if __name__ == "__main__":
    main(sys.argv[1:])

"""The chat app: `python app.py` is `qa serve`. Settings come from QA_INDEX, QA_ARTICLES, ... (defaults index/ and
seeds/); the address from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (default 127.0.0.1:7860).
The UI is qa/app/web.py, its serving qa/app/serve.py."""

import sys

from qa.app.serve import serve
from qa.config import Settings
from qa.errors import QAError

if __name__ == "__main__":
    try:
        serve(Settings.from_env())
    except QAError as e:
        sys.exit(f"error: {e}")

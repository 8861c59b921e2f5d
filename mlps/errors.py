"""One error type for bad user input: the CLI prints its message on one line and exits with its code."""


class UserError(Exception):
    """Input the user can fix. The message names the input, what was expected and what to do."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code

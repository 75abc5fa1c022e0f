"""Entry point of the ``csmri`` command: one-line errors, exit codes, no half-written output."""

from __future__ import annotations

import importlib
import os
import sys

# Before torch is imported anywhere: see learned/__init__.py.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click

from csmri._version import __version__
from csmri.errors import CsmriError, one_line

COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("cli.simulate", "Simulate undersampled single-coil k-space from IMAGE..."),
    "solve": ("cli.solve", "Reconstruct k-space files IN (fastMRI .h5,..."),
    "train": ("cli.train", "Train a U-Net (or unrolled network) to..."),
    "compare": ("cli.compare", "Compare methods on INPUT images/volumes/k-space files..."),
}
"""Sub-command name -> (module, short help as ``csmri --help`` lists it).

Commands are imported only when run (or asked for their own help), so ``csmri --help``
loads nothing but Click; a test checks each short help against its command's docstring."""


class CsmriGroup(click.Group):
    """A group that turns library errors into one line on stderr and a non-zero exit.

    Exit status 2 for usage errors, 1 for data errors, 130 on interrupt; the
    traceback is shown only with ``--debug``.  Sub-commands load lazily (:data:`COMMANDS`).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Sub-command names in the order of :data:`COMMANDS`."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the sub-command's module on first use."""
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return getattr(module, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the sub-commands from :data:`COMMANDS` without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> object:
        """Run the sub-command, reporting :class:`CsmriError` as one line."""
        import warnings

        def one_line_warning(message, category, *args, **kwargs) -> None:
            click.echo(f"csmri: warning: {one_line(message)}", err=True)

        if not sys.warnoptions:  # a user's -W wins; pytest installs its own hook
            warnings.showwarning = one_line_warning
        try:
            return super().invoke(ctx)
        except CsmriError as error:
            if ctx.params.get("debug"):
                raise
            click.echo(f"csmri: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            click.echo("csmri: interrupted; no output written", err=True)
            ctx.exit(130)
        except MemoryError:
            if ctx.params.get("debug"):
                raise
            click.echo("csmri: error: out of memory; try fewer slices (--slices)", err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as error:  # bad option values: one line, not a usage block
            if ctx.params.get("debug"):
                raise
            click.echo(f"csmri: error: {one_line(error.format_message())}", err=True)
            ctx.exit(error.exit_code)
        except OSError as error:  # disk full, permission denied, ... while reading or writing
            if ctx.params.get("debug"):
                raise
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"csmri: error: {where}{one_line(error.strerror or error)}", err=True)
            ctx.exit(1)
        except Exception as error:  # a bug in a library or in csmri: still one line
            if ctx.params.get("debug"):
                raise
            click.echo(
                f"csmri: error: unexpected {type(error).__name__}: {one_line(error)} "
                "(rerun with --debug for the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=CsmriGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(version=__version__, prog_name="csmri")
def csmri(debug: bool) -> None:
    """Compressed-sensing and learned MRI reconstruction on the same undersampled k-space."""


def main() -> None:
    """Console-script entry point."""
    csmri(prog_name="csmri")


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the ``csmri`` command: one-line errors, exit codes, no half-written output."""

from __future__ import annotations

import os
import sys

# Before torch is imported anywhere: see learned/__init__.py.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click

from csmri.errors import CsmriError, one_line


class CsmriGroup(click.Group):
    """A group that turns library errors into one line on stderr and a non-zero exit.

    Exit status 2 for usage errors, 1 for data errors, 130 on interrupt; the
    traceback is shown only with ``--debug``.
    """

    def invoke(self, ctx: click.Context) -> object:
        """Run the sub-command, reporting :class:`CsmriError` as one line."""
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
@click.version_option(package_name="csmri")
def csmri(debug: bool) -> None:
    """Compressed-sensing and learned MRI reconstruction on the same undersampled k-space."""


def _register() -> None:
    from cli.compare import compare
    from cli.simulate import simulate
    from cli.solve import solve
    from cli.train import train

    for command in (simulate, solve, train, compare):
        csmri.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    csmri(prog_name="csmri")


if __name__ == "__main__":
    sys.exit(main())

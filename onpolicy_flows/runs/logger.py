"""Per-iteration diagnostics in the spirit of baselines' logger: a table on stdout,
progress.csv and TensorBoard scalars. Only rank 0 writes; on other ranks it is silent. A
failed write (a full disk) stops every rank with one line (common.files)."""
import csv
import math
import os
import sys
from typing import Callable, Dict, Optional

import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.files import drop_cut_last_line, write_failure


class Logger:
    """Collects `record(key, value)` calls and writes them all at `dump(step)`.

    progress.csv is opened for appending, so a resumed run continues the same file; if a new
    key appears, the file is rewritten with the wider header (old rows get empty cells).
    """

    def __init__(self, run_dir: Optional[str], enabled: bool = True, stdout=sys.stdout):
        self.enabled = enabled
        self.stdout = stdout
        self.values: Dict[str, float] = {}
        self.display_rows: Dict[str, Callable[[], str]] = {}
        self.csv_path = os.path.join(run_dir, "progress.csv") if run_dir and enabled else None
        self.keys = self._existing_keys()
        self.summary_writer = None
        self.tensorboard_dir = os.path.join(run_dir, "tb") if run_dir else None
        if run_dir and enabled:
            try:
                self.summary_writer = tf.summary.create_file_writer(self.tensorboard_dir)
            except (tf.errors.OpError, OSError) as error:
                raise write_failure("TensorBoard events", self.tensorboard_dir,
                                    error) from error

    def record(self, key: str, value) -> None:
        self.values[key] = float(value)

    def add_display_row(self, key: str, text: Callable[[], str]) -> None:
        """A row of the printed table only (not progress.csv): `text()` at every dump."""
        self.display_rows[key] = text

    def dump(self, step: int) -> Dict[str, float]:
        """Writes and clears the recorded values; returns them. Collective."""
        values, self.values = self.values, {}
        mpi.call_stopping_together(lambda: self._write(values, step))
        return values

    def drop_rows_after(self, key: str, last_value: float) -> None:
        """Removes progress.csv rows whose `key` exceeds `last_value` (rows logged after the
        checkpoint a resumed run restarts from), so the file stays gap- and duplicate-free; a
        last row cut off by a kill goes too."""
        if not self.csv_path or not os.path.exists(self.csv_path):
            return
        kept = [row for row in self._read_rows()
                if row.get(key) and float(row[key]) <= last_value]
        self._write_rows(self.keys, kept)

    def _write(self, values, step):
        if not self.enabled:
            return
        self._print_table(values)
        if self.csv_path:
            try:
                self._append_csv(values)
            except OSError as error:
                raise write_failure("progress.csv", self.csv_path, error) from error
        if self.summary_writer is not None:
            try:
                with self.summary_writer.as_default():
                    for key, value in values.items():
                        tf.summary.scalar(key, value, step=step)
                self.summary_writer.flush()
            except (tf.errors.OpError, OSError) as error:
                raise write_failure("TensorBoard events", self.tensorboard_dir,
                                    error) from error

    def log(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stdout, flush=True)

    def close(self) -> None:
        if self.summary_writer is not None:
            self.summary_writer.close()

    def _existing_keys(self):
        if self.csv_path and os.path.exists(self.csv_path):
            with open(self.csv_path, newline="") as file:
                return next(csv.reader(file), [])
        return []

    def _append_csv(self, values):
        new_keys = [key for key in values if key not in self.keys]
        if new_keys:
            self._rewrite_with_keys(self.keys + new_keys)
        with open(self.csv_path, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.keys, restval="")
            if file.tell() == 0:
                writer.writeheader()
            writer.writerow(values)

    def _rewrite_with_keys(self, keys):
        rows = self._read_rows() if os.path.exists(self.csv_path) else []
        self._write_rows(keys, rows)
        self.keys = keys

    def _read_rows(self):
        """The complete rows of progress.csv (a last row cut short is dropped)."""
        drop_cut_last_line(self.csv_path)
        with open(self.csv_path, newline="") as file:
            reader = csv.DictReader(file)
            return [row for row in reader if None not in row.values()]

    def _write_rows(self, keys, rows):
        """Replaces progress.csv with a header of `keys` and `rows` (dicts): written beside
        it, then renamed over it, so a failure leaves the old file whole."""
        scratch = self.csv_path + ".tmp"
        try:
            with open(scratch, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=keys, restval="")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(scratch, self.csv_path)
        except OSError as error:
            if os.path.exists(scratch):
                os.remove(scratch)
            raise write_failure("progress.csv", self.csv_path, error) from error

    def _print_table(self, values):
        rows = [(key, _format(value)) for key, value in values.items()]
        rows += [(key, text()) for key, text in self.display_rows.items()]
        key_width = max(len(key) for key, _ in rows)
        value_width = max(len(text) for _, text in rows)
        rule = "-" * (key_width + value_width + 7)
        lines = [rule] + [f"| {key:<{key_width}} | {text:>{value_width}} |" for key, text in rows]
        print("\n".join(lines + [rule]), file=self.stdout, flush=True)


def _format(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.4g}"

"""Regenerates the bundled samples under data/ from the full public datasets in a --data directory.

Usage: python data/make_samples.py --data DIR
DIR holds the full datasets in the layout bench/README.md describes (where each comes from is in data/README.md):
  DIR/timeseries/beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv, DIR/sentiment/sst2/{train,dev}.tsv,
  DIR/translation/fra-eng/fra.txt.

SST-2: 5,000 training rows drawn at random (seed 0) and the whole dev set, header renamed to `text, label`.
Beijing PM2.5: the 2013-2014 hourly rows, reshaped to one `datetime` column (the source splits it into
year/month/day/hour) and with missing PM2.5 readings written as empty fields instead of `NA`.
Tatoeba English-French: 20,000 pairs drawn at random (seed 0) from the first 50,000 lines of fra.txt (the
file is ordered by sentence length, so these are sentences of up to 7 English words), kept in file order.
"""
import argparse
import csv
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent


BEIJING_SOURCE = 'timeseries/beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv'


def reshape_beijing(source: pathlib.Path, target: pathlib.Path, first_year: int) -> None:
  """Source rows from `first_year` on -> one `datetime` column, empty fields for missing PM2.5."""
  columns = ['pm2.5', 'DEWP', 'TEMP', 'PRES', 'cbwd', 'Iws', 'Is', 'Ir']
  target.parent.mkdir(parents=True, exist_ok=True)
  with open(source, newline='') as src, open(target, 'w', newline='') as dst:
    writer = csv.writer(dst, lineterminator='\n')
    writer.writerow(['datetime'] + columns)
    for row in csv.DictReader(src):
      if int(row['year']) < first_year:
        continue
      stamp = '%s-%02d-%02d %02d:00:00' % (row['year'], int(row['month']), int(row['day']), int(row['hour']))
      writer.writerow([stamp] + ['' if row[c] == 'NA' else row[c] for c in columns])


def make_beijing(data_root: pathlib.Path) -> None:
  target = HERE / 'beijing_pm25/beijing_pm25_2013_2014.csv'
  reshape_beijing(data_root / BEIJING_SOURCE, target, first_year=2013)
  print('wrote', target)


def make_sst2(data_root: pathlib.Path, train_rows: int = 5000) -> None:
  """A seeded random sample of SST-2 train rows plus the whole dev set, header renamed to `text, label`."""
  target = HERE / 'sst2'
  target.mkdir(exist_ok=True)
  for name, keep in (('train.tsv', train_rows), ('dev.tsv', None)):
    lines = (data_root / 'sentiment/sst2' / name).read_text(encoding='utf-8').splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split('\t') == ['sentence', 'label'], header
    if keep is not None:
      rows = [rows[i] for i in sorted(random.Random(0).sample(range(len(rows)), keep))]
    (target / name).write_text('text\tlabel\n' + '\n'.join(rows) + '\n', encoding='utf-8')
    print('wrote', target / name, len(rows), 'rows')


def make_translation(data_root: pathlib.Path, pairs: int = 20_000, pool: int = 50_000) -> None:
  """A seeded random sample of `pairs` lines from the first `pool` lines of fra.txt, in file order."""
  lines = (data_root / 'translation/fra-eng/fra.txt').read_text(encoding='utf-8').splitlines()[:pool]
  assert all(line.count('\t') >= 1 for line in lines)
  keep = sorted(random.Random(0).sample(range(len(lines)), pairs))
  target = HERE / 'fra_eng' / 'fra_eng_sample.txt'
  target.parent.mkdir(exist_ok=True)
  target.write_text('\n'.join(lines[i] for i in keep) + '\n', encoding='utf-8')
  print('wrote', target, pairs, 'pairs')


if __name__ == '__main__':
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--data', type=pathlib.Path, required=True, help='directory of the full datasets')
  data_root = parser.parse_args().data
  if not data_root.is_dir():
    parser.error(f'{data_root} is not a directory')
  make_beijing(data_root)
  make_sst2(data_root)
  make_translation(data_root)

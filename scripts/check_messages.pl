#!/usr/bin/perl
# check_messages.pl SRC POT PO...: crmpool's messages: the translations in po/LANG.po against
# the messages of the code, and the error fields of every refusal.
#   POT is the catalog xgettext extracts from SRC's code now (make -B po/crmpool.pot).
# Fails (exit 1, one line each) on:
#   - an ereport with an ERRCODE_CRMPOOL_* code that does not call crmpool_refusal() (its error
#     fields would be empty: docs/reference.md, "Error fields");
#   - a msgid of a .po that the code no longer has (a message changed or removed: its
#     translation is stale and would never be used);
#   - a refusal's errmsg, errdetail or errhint (an ereport with an ERRCODE_CRMPOOL_* code) that
#     a .po leaves untranslated or fuzzy.
# Reports (without failing) every other message of the code a .po leaves untranslated.
use strict;
use warnings;

my ($src, $pot, @pos) = @ARGV;
die "usage: check_messages.pl SRC POT PO...\n" unless $src && $pot && @pos;

# msgid => [msgstr, fuzzy] of a .po or .pot (one-line or multi-line strings; no plurals used)
sub read_po
{
	my ($file) = @_;
	open my $fh, '<:encoding(UTF-8)', $file or die "$file: $!";
	my %cat;
	my ($id, $str, $fuzzy, $in) = (undef, undef, 0, '');
	my $flush = sub {
		$cat{$id} = [ $str // '', $fuzzy ] if defined $id && $id ne '';
		($id, $str, $fuzzy, $in) = (undef, undef, 0, '');
	};
	while (my $line = <$fh>)
	{
		chomp $line;
		if ($line =~ /^#,.*\bfuzzy\b/) { $flush->() if defined $str; $fuzzy = 1; }
		elsif ($line =~ /^#~/ || $line =~ /^#/) { $flush->() if defined $str; }
		elsif ($line =~ /^msgid "(.*)"$/) { $flush->() if defined $str; $id = $1; $in = 'id'; }
		elsif ($line =~ /^msgstr "(.*)"$/) { $str = $1; $in = 'str'; }
		elsif ($line =~ /^"(.*)"$/) { if ($in eq 'id') { $id .= $1 } else { $str .= $1 } }
		elsif ($line eq '') { $flush->() if defined $str; }
	}
	$flush->() if defined $str;
	return \%cat;
}

# The text of each errmsg/errdetail/errhint of every ereport with a crmpool SQLSTATE, as C
# string literals (the escapes as a .po writes them): file:line => [msgid...]; and the places
# of those ereports that do not call crmpool_refusal()
my @no_fields;

sub refusal_messages
{
	my %out;
	for my $file (sort glob("$src/src/*/*.c"))
	{
		open my $fh, '<', $file or die "$file: $!";
		my $text = do { local $/; <$fh> };
		while ($text =~ /\bereport\s*\(/g)
		{
			my $start = pos($text) - 1;
			# the ereport's extent: balanced parentheses outside string and char literals
			my ($depth, $i) = (0, $start);
			while ($i < length $text)
			{
				my $c = substr($text, $i, 1);
				if ($c eq '"' || $c eq "'")
				{
					$i++;
					$i += (substr($text, $i, 1) eq '\\') ? 2 : 1 while substr($text, $i, 1) ne $c;
				}
				elsif ($c eq '(') { $depth++ }
				elsif ($c eq ')') { last if --$depth == 0 }
				$i++;
			}
			my $call = substr($text, $start, $i - $start + 1);
			next unless $call =~ /ERRCODE_CRMPOOL_/;
			my $line = 1 + (substr($text, 0, $start) =~ tr/\n//);
			(my $rel = $file) =~ s{^\Q$src\E/}{};
			push @no_fields, "$rel:$line" unless $call =~ /\bcrmpool_refusal\s*\(/;
			while ($call =~ /\b(?:errmsg|errdetail|errhint)\s*\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g)
			{
				my $lits = $1;
				my $id = join '', $lits =~ /"((?:[^"\\]|\\.)*)"/g;
				push @{ $out{"$rel:$line"} }, $id;
			}
		}
	}
	return \%out;
}

my $code = read_po($pot);
my $refusals = refusal_messages();
die "no refusal messages found under $src/src\n" unless %$refusals;
my $failed = 0;
for my $where (@no_fields)
{
	print "$where: a refusal (ERRCODE_CRMPOOL_*) without crmpool_refusal(): its error fields are empty\n";
	$failed = 1;
}
for my $po (@pos)
{
	my $cat = read_po($po);
	for my $id (sort keys %$cat)
	{
		next if exists $code->{$id};
		print "$po: stale: msgid \"$id\" is not a message of the code any more\n";
		$failed = 1;
	}
	my %refusal;
	for my $where (sort keys %$refusals)
	{
		for my $id (@{ $refusals->{$where} })
		{
			$refusal{$id} = 1;
			my $e = $cat->{$id};
			next if $e && $e->[0] ne '' && !$e->[1];
			print "$po: untranslated refusal message ($where): \"$id\"\n";
			$failed = 1;
		}
	}
	for my $id (sort keys %$code)
	{
		next if $refusal{$id};
		my $e = $cat->{$id};
		print "$po: note: untranslated message \"$id\"\n" unless $e && $e->[0] ne '' && !$e->[1];
	}
}
my $n = 0;
$n += @$_ for values %$refusals;
print "checked $n refusal messages of ", scalar(keys %$refusals), " ereports against @pos\n";
exit $failed;

# A normalised description of everything an extension owns, for comparing
# a database brought to a version by ALTER EXTENSION ... UPDATE with one
# where that version was created afresh.
#
# extension_catalog($node, $dbname, $extname) returns text, one line per
# attribute, sorted within each section, that names objects by their
# qualified names and never by OID.  Two databases hold the same catalog
# for the extension exactly when the texts are equal, so
#
#     is(extension_catalog($node, 'updated', 'pgq'),
#        extension_catalog($node, 'fresh', 'pgq'), '...');
#
# fails with a diff that names the object and the attribute which differ.
# Covered: the extension row (version, schema, relocatable, requirements,
# dump configuration), the list of member objects, and for the members
# functions (everything CREATE FUNCTION can set, the body and privileges),
# tables, sequences and views (columns, defaults, constraints, indexes,
# triggers, rules, inheritance, storage options, privileges, sequence
# parameters, view definitions), types, schemas and comments.  Owners are
# left out: both sides are made by whoever runs the test.  Function bodies
# are shown as a digest to keep diffs short; the line names the function.

package ExtensionCatalog;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(extension_catalog);

# Members of the extension: "classid::regclass = 'pg_proc'::regclass" and
# the like pick a catalog.  %s is the extension name, quoted.
my $members = q{
	select d.classid, d.objid, d.objsubid
	  from pg_catalog.pg_depend d
	  join pg_catalog.pg_extension e on e.oid = d.refobjid
	 where d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	   and d.deptype = 'e' and e.extname = %s
};

# Privileges of an ACL as sorted "grantee=privileges" items; grantors are
# left out because they are whoever owned the object at the time.
my $acl = q{
	coalesce((select pg_catalog.string_agg(x.item, ',' order by x.item)
	            from (select case when a.grantee = 0 then 'PUBLIC'
	                              else pg_catalog.pg_get_userbyid(a.grantee)::text end
	                         || '=' || a.privilege_type
	                         || case when a.is_grantable then '*' else '' end
	                         as item
	                    from pg_catalog.aclexplode(%s) a) x), '<default>')
};

my @sections = (

	# the extension itself
	[
		'extension', q{
	select 'extension ' || e.extname
	       || ' version=' || e.extversion
	       || ' schema=' || n.nspname
	       || ' relocatable=' || e.extrelocatable
	       || ' requires=' || coalesce((
	              select pg_catalog.string_agg(r.extname, ',' order by r.extname)
	                from pg_catalog.pg_depend d
	                join pg_catalog.pg_extension r on r.oid = d.refobjid
	               where d.classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	                 and d.objid = e.oid
	                 and d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass),
	              '')
	  from pg_catalog.pg_extension e
	  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
	 where e.extname = %s
	union all
	select 'dump config ' || c.cfg::pg_catalog.regclass::text
	       || ' where ' || pg_catalog.quote_literal(c.cond)
	  from pg_catalog.pg_extension e,
	       unnest(e.extconfig, e.extcondition) as c(cfg, cond)
	 where e.extname = %s
	order by 1
}
	],

	# every member, as the server describes it
	[
		'members', qq{
	select pg_catalog.pg_describe_object(m.classid, m.objid, m.objsubid)
	  from ($members) m
	 order by 1
}
	],

	# functions and procedures
	[
		'functions', qq{
	select p.oid::pg_catalog.regprocedure::text
	       || ' kind=' || p.prokind::text
	       || ' args=(' || pg_catalog.pg_get_function_arguments(p.oid) || ')'
	       || ' returns=' || coalesce(pg_catalog.pg_get_function_result(p.oid), '')
	       || ' language=' || l.lanname
	       || ' volatility=' || p.provolatile::text
	       || ' strict=' || p.proisstrict
	       || ' security_definer=' || p.prosecdef
	       || ' leakproof=' || p.proleakproof
	       || ' parallel=' || p.proparallel::text
	       || ' cost=' || p.procost
	       || ' rows=' || p.prorows
	       || ' config=' || coalesce(p.proconfig::text, '')
	       || ' probin=' || coalesce(p.probin, '')
	       || case when l.lanname in ('c', 'internal')
	               then ' symbol=' || p.prosrc
	               else ' body_md5=' || pg_catalog.md5(p.prosrc) end
	       || ' acl=' || @{[ sprintf($acl, 'p.proacl') ]}
	  from ($members) m
	  join pg_catalog.pg_proc p on p.oid = m.objid
	  join pg_catalog.pg_language l on l.oid = p.prolang
	 where m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
	 order by 1
}
	],

	# tables, sequences, views: the relation itself
	[
		'relations', qq{
	select c.oid::pg_catalog.regclass::text
	       || ' kind=' || c.relkind::text
	       || ' persistence=' || c.relpersistence::text
	       || ' options=' || coalesce(c.reloptions::text, '')
	       || ' inherits=' || coalesce((
	              select pg_catalog.string_agg(i.inhparent::pg_catalog.regclass::text, ','
	                                           order by i.inhseqno)
	                from pg_catalog.pg_inherits i where i.inhrelid = c.oid), '')
	       || ' acl=' || @{[ sprintf($acl, 'c.relacl') ]}
	  from ($members) m
	  join pg_catalog.pg_class c on c.oid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	 order by 1
}
	],

	# columns of the member relations, in order
	[
		'columns', qq{
	select c.oid::pg_catalog.regclass::text || '.' || a.attname
	       || ' #' || a.attnum
	       || ' type=' || pg_catalog.format_type(a.atttypid, a.atttypmod)
	       || ' not_null=' || a.attnotnull
	       || ' default=' || coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
	       || ' identity=' || a.attidentity::text
	       || ' generated=' || a.attgenerated::text
	       || ' collation=' || coalesce(a.attcollation::pg_catalog.regcollation::text, '')
	       || ' local=' || a.attislocal
	       || ' acl=' || @{[ sprintf($acl, 'a.attacl') ]}
	  from ($members) m
	  join pg_catalog.pg_class c on c.oid = m.objid
	  join pg_catalog.pg_attribute a on a.attrelid = c.oid
	  left join pg_catalog.pg_attrdef ad
	         on ad.adrelid = a.attrelid and ad.adnum = a.attnum
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	   and c.relkind <> 'S' and a.attnum > 0 and not a.attisdropped
	 order by c.oid::pg_catalog.regclass::text, a.attnum
}
	],

	# constraints, indexes, triggers and rules of the member relations
	[
		'constraints', qq{
	select conrelid::pg_catalog.regclass::text || ' constraint ' || conname
	       || ': ' || pg_catalog.pg_get_constraintdef(co.oid)
	       || ' deferrable=' || condeferrable || ' deferred=' || condeferred
	  from ($members) m
	  join pg_catalog.pg_constraint co on co.conrelid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	union all
	select pg_catalog.pg_get_indexdef(i.indexrelid)
	       || ' clustered=' || i.indisclustered
	  from ($members) m
	  join pg_catalog.pg_index i on i.indrelid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	union all
	select pg_catalog.pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
	  from ($members) m
	  join pg_catalog.pg_trigger t on t.tgrelid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	   and not t.tgisinternal
	union all
	select pg_catalog.pg_get_ruledef(r.oid)
	  from ($members) m
	  join pg_catalog.pg_rewrite r on r.ev_class = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	order by 1
}
	],

	# sequence parameters
	[
		'sequences', qq{
	select s.seqrelid::pg_catalog.regclass::text
	       || ' type=' || s.seqtypid::pg_catalog.regtype::text
	       || ' start=' || s.seqstart || ' increment=' || s.seqincrement
	       || ' min=' || s.seqmin || ' max=' || s.seqmax
	       || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
	       || ' owned_by=' || coalesce((
	              select d.refobjid::pg_catalog.regclass::text || '.' || a.attname
	                from pg_catalog.pg_depend d
	                join pg_catalog.pg_attribute a
	                  on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
	               where d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	                 and d.objid = s.seqrelid and d.deptype in ('a', 'i')
	                 and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass),
	              '')
	  from ($members) m
	  join pg_catalog.pg_sequence s on s.seqrelid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	 order by 1
}
	],

	# view definitions
	[
		'views', qq{
	select c.oid::pg_catalog.regclass::text || ': '
	       || pg_catalog.pg_get_viewdef(c.oid)
	  from ($members) m
	  join pg_catalog.pg_class c on c.oid = m.objid
	 where m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	   and c.relkind in ('v', 'm')
	 order by 1
}
	],

	# types: composite types show their attributes under "columns" only
	# when they are relations, so list every member type's shape here
	[
		'types', qq{
	select t.oid::pg_catalog.regtype::text
	       || ' type=' || t.typtype::text
	       || ' attributes=' || coalesce((
	              select pg_catalog.string_agg(a.attname || ' '
	                         || pg_catalog.format_type(a.atttypid, a.atttypmod),
	                         ', ' order by a.attnum)
	                from pg_catalog.pg_attribute a
	               where a.attrelid = t.typrelid and a.attnum > 0
	                 and not a.attisdropped), '')
	       || ' labels=' || coalesce((
	              select pg_catalog.string_agg(en.enumlabel, ',' order by en.enumsortorder)
	                from pg_catalog.pg_enum en where en.enumtypid = t.oid), '')
	       || ' acl=' || @{[ sprintf($acl, 't.typacl') ]}
	  from ($members) m
	  join pg_catalog.pg_type t on t.oid = m.objid
	 where m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
	 order by 1
}
	],

	# schemas
	[
		'schemas', qq{
	select n.nspname || ' acl=' || @{[ sprintf($acl, 'n.nspacl') ]}
	  from ($members) m
	  join pg_catalog.pg_namespace n on n.oid = m.objid
	 where m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
	 order by 1
}
	],

	# comments on members and on their columns
	[
		'comments', qq{
	select pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid)
	       || ': ' || d.description
	  from ($members) m
	  join pg_catalog.pg_description d
	    on d.classoid = m.classid and d.objoid = m.objid
	 order by 1
}
	]);

# The description of extension $extname in database $dbname of $node.
sub extension_catalog
{
	my ($node, $dbname, $extname) = @_;
	my $quoted = "'" . ($extname =~ s/'/''/gr) . "'";
	my $text = '';

	foreach my $section (@sections)
	{
		my ($title, $query) = @$section;
		my $sql = $query =~ s/%s/$quoted/gr;
		$text .= "== $title\n" . $node->safe_psql($dbname, $sql) . "\n";
	}
	return $text;
}

1;

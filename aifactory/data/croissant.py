"""Croissant 1.0 (MLCommons) JSON-LD of a dataset version: what an ML framework needs to load it.

Each file is a ``cr:FileObject`` (its download address, media type, size and SHA-256); each tabular
file read by a column (CSV, TSV, Parquet, JSON Lines) gets a ``cr:RecordSet`` whose fields come from
the schema profiling found, with DuckDB's types mapped to Croissant's. JSON and Excel files are
described but get no record set (their rows are not addressed by column). mlcroissant checks the
output in tests/test_croissant.py.
"""

from . import dcat

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"

# The @context of the Croissant 1.0 specification (with the two keys mlcroissant adds to it).
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# Our formats → the encodingFormat Croissant readers understand.
ENCODING = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "parquet": "application/x-parquet",
    "jsonl": "application/jsonlines",
    "json": "application/json",
}
BY_COLUMN = {"csv", "tsv", "parquet", "jsonl"}


def data_type(duckdb_type: str) -> str:
    """A DuckDB column type as a Croissant data type."""
    t = (duckdb_type or "").upper().strip()
    if t.endswith("[]") or t.startswith(("STRUCT", "MAP", "LIST", "UNION")):
        return "sc:Text"
    if t in {"BOOLEAN", "BOOL"}:
        return "sc:Boolean"
    if t == "DATE":
        return "sc:Date"
    if t.startswith("TIMESTAMP") or t == "DATETIME":
        return "sc:DateTime"
    if t.startswith("TIME"):
        return "sc:Time"
    if t.startswith(("DECIMAL", "NUMERIC")) or t in {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"}:
        return "sc:Float"
    if t in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "INT",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "INT1",
        "INT2",
        "INT4",
        "INT8",
        "LONG",
    }:
        return "sc:Integer"
    return "sc:Text"


def version_of(dataset, number: int | None = None):
    """The newest ready version, or version ``number`` if it is ready; None otherwise."""
    if number is None:
        return dataset.newest_ready_version()
    return dataset.versions.ready().filter(number=number).first()


def _id(text: str) -> str:
    return text.replace("/", "_").replace(" ", "_") or "file"


def croissant(dataset, version) -> dict:
    """The Croissant document of ``version`` of ``dataset`` (the caller checked "dataset.view")."""
    distributions = list(version.distributions.all())
    doc: dict = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "@id": str(dcat.dataset_uri(dataset)),
        "name": dataset.text("title") or dataset.slug,
        "description": dataset.text("description") or dataset.text("title") or dataset.slug,
        "conformsTo": CONFORMS_TO,
        "url": dataset.landing_page or dcat.dataset_page(dataset),
        "version": f"{version.number}.0.0",
        "creator": {"@type": "sc:Organization", "name": dataset.publisher.legal_name},
        "publisher": {"@type": "sc:Organization", "name": dataset.publisher.legal_name},
        "identifier": dataset.identifier,
        "citeAs": (
            f"{dataset.publisher.legal_name}. {dataset.text('title') or dataset.slug}, "
            f"version {version.number}. {dataset.landing_page or dcat.dataset_page(dataset)}"
        ),
        "datePublished": (dataset.issued_at or version.created_at).date().isoformat(),
        "dateModified": version.created_at.date().isoformat(),
    }
    if dataset.licence:
        doc["license"] = str(dcat.vocabulary_uri(dcat.LICENCE, dataset.licence))
    if dataset.keywords:
        doc["keywords"] = [str(k) for k in dataset.keywords]
    if dataset.temporal_start or dataset.temporal_end:
        start = dataset.temporal_start.isoformat() if dataset.temporal_start else ".."
        end = dataset.temporal_end.isoformat() if dataset.temporal_end else ".."
        doc["temporalCoverage"] = f"{start}/{end}"
    if dataset.spatial:
        doc["spatialCoverage"] = dataset.spatial
    files, record_sets = [], []
    for distribution in distributions:
        distribution.version, version.dataset = version, dataset
        file_id = _id(distribution.name)
        files.append(
            {
                "@type": "cr:FileObject",
                "@id": file_id,
                "name": distribution.name,
                "contentUrl": dcat._download_url(distribution),
                "encodingFormat": ENCODING.get(distribution.format, distribution.media_type),
                "contentSize": f"{distribution.size} B",
                "sha256": distribution.sha256,
            }
        )
        if distribution.format not in BY_COLUMN or not distribution.schema:
            continue
        record_id = f"{file_id}/records"
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": record_id,
                "name": f"{distribution.name} rows",
                "description": f"{distribution.row_count} rows"
                if distribution.row_count is not None
                else "",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"{record_id}/{_id(column['name'])}",
                        "name": column["name"],
                        "dataType": data_type(column.get("type", "")),
                        "source": {
                            "fileObject": {"@id": file_id},
                            "extract": {"column": column["name"]},
                        },
                    }
                    for column in distribution.schema
                    if column.get("name")
                ],
            }
        )
    doc["distribution"] = files
    if record_sets:
        for record_set in record_sets:
            if not record_set["description"]:
                del record_set["description"]
        doc["recordSet"] = record_sets
    return doc

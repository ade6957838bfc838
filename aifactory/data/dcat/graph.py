"""The catalogue as an RDF graph: who sees which datasets, the URIs of our resources, and the
DCAT-AP 3 and DQV resources of every dataset.
"""

import functools
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

from ..datasets_selectors import datasets_visible
from ..models import DatasetStatus
from .vocabularies import (
    ACCESS_RIGHT,
    ACCESS_RIGHTS_EU,
    CONTEXT,
    DCAT,
    DQV,
    EU,
    FILE_TYPE,
    FILE_TYPES,
    FREQUENCY,
    LANGUAGE,
    LANGUAGES,
    LICENCE,
    OA,
    SPDX,
    THEME,
    VCARD,
    country_uri,
    is_uri,
    media_type_uri,
    theme_labels,
    vocabulary_code,
    vocabulary_uri,
)


def _bind(graph: Graph) -> Graph:
    for prefix, uri in CONTEXT.items():
        graph.bind(prefix, Namespace(uri), override=True)
    return graph


# --- who sees what -------------------------------------------------------------------------------


def datasets_for_catalog(user):
    """The published datasets the visitor may see (``datasets_visible``): anonymous visitors and
    outsiders get public, registered and restricted ones; members also their organisations'
    internal ones; operators all. Drafts and archived datasets are in no catalogue."""
    return (
        datasets_visible(user)
        .filter(status=DatasetStatus.PUBLISHED)
        .with_newest_ready_version()
        .order_by("created_at", "pk")
    )


# --- URIs of our resources -------------------------------------------------------------------------


def catalog_uri() -> URIRef:
    return URIRef(settings.DATA_CATALOG_URI)


def dataset_uri(dataset) -> URIRef:
    return URIRef(f"{settings.SITE_URL}/api/v1/datasets/{dataset.pk}")


@functools.cache
def _path_template(name: str, placeholders: tuple[tuple[str, str], ...]) -> str | None:
    """The path of a URL pattern with placeholders in it (reversed once, then filled in: the
    catalogue has thousands of them)."""
    try:
        return reverse(name, kwargs=dict(placeholders))
    except NoReverseMatch:
        return None


def dataset_page(dataset) -> str:
    """The dataset's page in the portal (its landing page here, and every file's access URL)."""
    template = _path_template("data:dataset_detail", (("slug", "SLUG0"),))
    path = template.replace("SLUG0", dataset.slug) if template else f"/datasets/{dataset.slug}/"
    return settings.SITE_URL + path


def _download_url(distribution) -> str:
    """The API address that streams the file (the access rights are checked there)."""
    version = distribution.version
    template = _path_template(
        "api:file_download", (("key", "KEY0"), ("number", "7770777"), ("name", "NAME0"))
    )
    template = template or "/api/v1/datasets/KEY0/versions/7770777/files/NAME0"
    return settings.SITE_URL + (
        template.replace("KEY0", version.dataset.slug)
        .replace("7770777", str(version.number))
        .replace("NAME0", quote(distribution.name, safe="!$&'()*+,;=~:@"))
    )


# --- the graph -------------------------------------------------------------------------------------


class _Builder:
    """Adds resources to one graph; the typed vocabulary terms are added once each."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.typed: set = set()
        self.metadata_metric = URIRef(str(catalog_uri()) + "#metadata-quality-score")
        self.data_metric = URIRef(str(catalog_uri()) + "#data-quality-score")
        self.metrics_added = False

    def term(self, uri: URIRef, *classes, label: str = "") -> URIRef:
        if uri not in self.typed:
            self.typed.add(uri)
            for cls in classes:
                self.g.add((uri, RDF.type, cls))
            if label:
                self.g.add((uri, SKOS.prefLabel, Literal(label, lang="en")))
        return uri

    def texts(self, subject, predicate, values: dict, fallback: str = "") -> None:
        added = False
        for lang, text in (values or {}).items():
            if (text or "").strip():
                self.g.add((subject, predicate, Literal(text.strip(), lang=lang or None)))
                added = True
        if not added and fallback:
            self.g.add((subject, predicate, Literal(fallback, lang="en")))

    def publisher(self, organisation) -> URIRef:
        uri = URIRef(f"{settings.SITE_URL}/api/v1/organisations/{organisation.pk}")
        if uri not in self.typed:
            self.term(uri, FOAF.Agent, FOAF.Organization)
            self.g.add((uri, FOAF.name, Literal(organisation.legal_name)))
        return uri

    def licence(self, value: str) -> URIRef:
        return self.term(vocabulary_uri(LICENCE, value), DCTERMS.LicenseDocument)

    def metrics(self) -> None:
        if self.metrics_added:
            return
        self.metrics_added = True
        for metric, definition in (
            (
                self.metadata_metric,
                "Metadata quality score (0-100): licence, description, contact, coverage, "
                "frequency, keywords, themes, formats, landing page.",
            ),
            (
                self.data_metric,
                "Data quality score (0-100) of the newest version: completeness, uniqueness of "
                "keys, validity against the declared schema, ranges, allowed values, freshness "
                "and the publisher's own checks.",
            ),
        ):
            self.g.add((metric, RDF.type, DQV.Metric))
            self.g.add((metric, SKOS.definition, Literal(definition, lang="en")))
            self.g.add((metric, DQV.expectedDataType, XSD.integer))

    def measurement(self, target, metric, value: int, when=None) -> None:
        self.metrics()
        node = BNode()
        self.g.add((target, DQV.hasQualityMeasurement, node))
        self.g.add((node, RDF.type, DQV.QualityMeasurement))
        self.g.add((node, DQV.isMeasurementOf, metric))
        self.g.add((node, DQV.computedOn, target))
        self.g.add((node, DQV.value, Literal(int(value), datatype=XSD.integer)))
        if when is not None:
            self.g.add((node, PROV.generatedAtTime, Literal(when, datatype=XSD.dateTime)))

    def annotation(self, target, text: str) -> None:
        if not text.strip():
            return
        node, body = BNode(), BNode()
        self.g.add((target, DQV.hasQualityAnnotation, node))
        self.g.add((node, RDF.type, DQV.QualityAnnotation))
        self.g.add((node, OA.hasTarget, target))
        self.g.add((node, OA.motivatedBy, DQV.qualityAssessment))
        self.g.add((node, OA.hasBody, body))
        self.g.add((body, RDF.type, OA.TextualBody))
        self.g.add((body, RDF.value, Literal(text, lang="en")))
        self.g.add((body, DCTERMS.format, Literal("text/plain")))

    def catalog(self) -> URIRef:
        g, uri = self.g, catalog_uri()
        g.add((uri, RDF.type, DCAT.Catalog))
        g.add((uri, DCTERMS.title, Literal(settings.DATA_CATALOG_TITLE, lang="en")))
        g.add((uri, DCTERMS.description, Literal(settings.DATA_CATALOG_DESCRIPTION, lang="en")))
        agent = URIRef(settings.SITE_URL + "/#publisher")
        self.term(agent, FOAF.Agent)
        g.add((agent, FOAF.name, Literal(settings.DATA_CATALOG_PUBLISHER)))
        g.add((uri, DCTERMS.publisher, agent))
        homepage = self.term(URIRef(settings.SITE_URL + "/"), FOAF.Document)
        g.add((uri, FOAF.homepage, homepage))
        scheme = URIRef(EU + "data-theme")
        self.term(scheme, SKOS.ConceptScheme)
        g.add((scheme, DCTERMS.title, Literal("Data theme", lang="en")))
        g.add((uri, DCAT.themeTaxonomy, scheme))
        return uri

    def dataset(self, dataset, catalog=None) -> URIRef:
        g = self.g
        uri = dataset_uri(dataset)
        g.add((uri, RDF.type, DCAT.Dataset))
        if catalog is not None:
            g.add((catalog, DCAT.dataset, uri))
        g.add((uri, DCTERMS.identifier, Literal(dataset.identifier or str(dataset.pk))))
        self.texts(uri, DCTERMS.title, dataset.title, fallback=dataset.slug)
        self.texts(
            uri,
            DCTERMS.description,
            dataset.description,
            fallback=dataset.text("title") or dataset.slug,
        )
        for lang in sorted({k for k, v in (dataset.title or {}).items() if v} & LANGUAGES.keys()):
            language = self.term(URIRef(LANGUAGE + LANGUAGES[lang]), DCTERMS.LinguisticSystem)
            g.add((uri, DCTERMS.language, language))
        for keyword in dataset.keywords or []:
            if str(keyword).strip():
                g.add((uri, DCAT.keyword, Literal(str(keyword).strip())))
        for code in dataset.themes or []:
            theme = vocabulary_uri(THEME, code)
            label = theme_labels().get(code) or vocabulary_code(THEME, theme) or str(code)
            self.term(theme, SKOS.Concept, label=label)
            g.add((theme, SKOS.inScheme, URIRef(EU + "data-theme")))
            g.add((uri, DCAT.theme, theme))
        if dataset.contact_email or dataset.contact_name:
            contact = BNode()
            g.add((uri, DCAT.contactPoint, contact))
            g.add((contact, RDF.type, VCARD.Kind))
            g.add(
                (contact, VCARD.fn, Literal(dataset.contact_name or dataset.publisher.legal_name))
            )
            if dataset.contact_email:
                g.add((contact, VCARD.hasEmail, URIRef("mailto:" + dataset.contact_email)))
        g.add((uri, DCTERMS.publisher, self.publisher(dataset.publisher)))
        if dataset.spatial:
            place = country_uri(dataset.spatial)
            if place is None:
                place = BNode()
                g.add((place, SKOS.prefLabel, Literal(dataset.spatial)))
                g.add((place, RDF.type, DCTERMS.Location))
            else:
                self.term(place, DCTERMS.Location)
            g.add((uri, DCTERMS.spatial, place))
        if dataset.temporal_start or dataset.temporal_end:
            period = BNode()
            g.add((uri, DCTERMS.temporal, period))
            g.add((period, RDF.type, DCTERMS.PeriodOfTime))
            if dataset.temporal_start:
                g.add((period, DCAT.startDate, Literal(dataset.temporal_start, datatype=XSD.date)))
            if dataset.temporal_end:
                g.add((period, DCAT.endDate, Literal(dataset.temporal_end, datatype=XSD.date)))
        if dataset.frequency:
            frequency = self.term(vocabulary_uri(FREQUENCY, dataset.frequency), DCTERMS.Frequency)
            g.add((uri, DCTERMS.accrualPeriodicity, frequency))
        rights = ACCESS_RIGHTS_EU.get(dataset.access_rights)
        if rights:
            g.add(
                (
                    uri,
                    DCTERMS.accessRights,
                    self.term(URIRef(ACCESS_RIGHT + rights), DCTERMS.RightsStatement),
                )
            )
        for standard in dataset.conformance or []:
            if is_uri(standard):
                g.add((uri, DCTERMS.conformsTo, self.term(URIRef(standard), DCTERMS.Standard)))
        if (dataset.provenance or "").strip():
            statement = BNode()
            g.add((uri, DCTERMS.provenance, statement))
            g.add((statement, RDF.type, DCTERMS.ProvenanceStatement))
            g.add((statement, RDFS.label, Literal(dataset.provenance.strip(), lang="en")))
        if dataset.issued_at:
            g.add((uri, DCTERMS.issued, Literal(dataset.issued_at, datatype=XSD.dateTime)))
        g.add((uri, DCTERMS.modified, Literal(dataset.updated_at, datatype=XSD.dateTime)))
        landing = dataset.landing_page or dataset_page(dataset)
        g.add((uri, DCAT.landingPage, self.term(URIRef(landing), FOAF.Document)))

        version = dataset.newest_ready_version()
        if version is not None:
            g.add((uri, DCAT.version, Literal(str(version.number))))
            for distribution in version.distributions.all():
                distribution.version = version
                version.dataset = dataset
                g.add((uri, DCAT.distribution, self.distribution(dataset, distribution)))
        for index, item in enumerate(dataset.harvested_distributions or []):
            g.add((uri, DCAT.distribution, self.harvested(dataset, index, item)))
        if (
            dataset.licence
            and not (version and version.distributions.all())
            and not (dataset.harvested_distributions)
        ):
            # DCAT-AP puts the licence on the files; with none yet, DCAT's own place keeps it
            g.add((uri, DCTERMS.license, self.licence(dataset.licence)))

        self.quality(dataset, uri, version)
        return uri

    def distribution(self, dataset, distribution) -> URIRef:
        g = self.g
        uri = URIRef(f"{dataset_uri(dataset)}/distributions/{distribution.pk}")
        g.add((uri, RDF.type, DCAT.Distribution))
        g.add((uri, DCTERMS.title, Literal(distribution.name)))
        page = self.term(URIRef(dataset_page(dataset)), FOAF.Document)
        g.add((uri, DCAT.accessURL, page))
        g.add((uri, DCAT.downloadURL, URIRef(_download_url(distribution))))
        media = media_type_uri(distribution.media_type)
        if media is not None:
            g.add((uri, DCAT.mediaType, self.term(media, DCTERMS.MediaType)))
        file_type = FILE_TYPES.get(distribution.format)
        if file_type:
            fmt = self.term(URIRef(FILE_TYPE + file_type), DCTERMS.MediaTypeOrExtent)
            g.add((uri, DCTERMS.format, fmt))
        g.add(
            (uri, DCAT.byteSize, Literal(int(distribution.size), datatype=XSD.nonNegativeInteger))
        )
        if distribution.sha256:
            checksum = BNode()
            algorithm = self.term(SPDX.checksumAlgorithm_sha256, SPDX.ChecksumAlgorithm)
            g.add((uri, SPDX.checksum, checksum))
            g.add((checksum, RDF.type, SPDX.Checksum))
            g.add((checksum, SPDX.algorithm, algorithm))
            g.add(
                (checksum, SPDX.checksumValue, Literal(distribution.sha256, datatype=XSD.hexBinary))
            )
        if dataset.licence:
            g.add((uri, DCTERMS.license, self.licence(dataset.licence)))
        g.add((uri, DCTERMS.modified, Literal(distribution.created_at, datatype=XSD.dateTime)))
        return uri

    def harvested(self, dataset, index: int, item: dict) -> URIRef | BNode:
        """A file of a harvested dataset: a reference to where the source keeps it."""
        g = self.g
        original = item.get("uri") or ""
        uri = (
            URIRef(original)
            if is_uri(original)
            else URIRef(f"{dataset_uri(dataset)}/files/{index}")
        )
        g.add((uri, RDF.type, DCAT.Distribution))
        if item.get("title"):
            g.add((uri, DCTERMS.title, Literal(item["title"])))
        access = item.get("access_url") or item.get("download_url") or ""
        if not is_uri(access):
            access = dataset.landing_page or dataset_page(dataset)
        g.add((uri, DCAT.accessURL, URIRef(access)))
        if is_uri(item.get("download_url") or ""):
            g.add((uri, DCAT.downloadURL, URIRef(item["download_url"])))
        media = media_type_uri(item.get("media_type") or "")
        if media is not None:
            g.add((uri, DCAT.mediaType, self.term(media, DCTERMS.MediaType)))
        if item.get("format"):
            fmt = self.term(vocabulary_uri(FILE_TYPE, item["format"]), DCTERMS.MediaTypeOrExtent)
            g.add((uri, DCTERMS.format, fmt))
        if isinstance(item.get("byte_size"), int) and item["byte_size"] >= 0:
            g.add((uri, DCAT.byteSize, Literal(item["byte_size"], datatype=XSD.nonNegativeInteger)))
        licence = item.get("licence") or dataset.licence
        if licence:
            g.add((uri, DCTERMS.license, self.licence(licence)))
        return uri

    def quality(self, dataset, uri, version) -> None:
        if dataset.metadata_score is not None:
            self.measurement(uri, self.metadata_metric, dataset.metadata_score)
            lines = [
                f"{r.get('field', '')}: {r.get('message', '')} ({r.get('points')}/{r.get('max')})"
                for r in dataset.metadata_reasons or []
                if isinstance(r, dict)
            ]
            if lines:
                self.annotation(uri, "Metadata quality:\n" + "\n".join(lines))
        if version is not None and version.quality_score is not None:
            self.measurement(
                uri, self.data_metric, version.quality_score, version.quality_checked_at
            )
            lines = []
            for r in version.quality_results or []:
                if not isinstance(r, dict):
                    continue
                where = f" [{r['column']}]" if r.get("column") else ""
                state = "passed" if r.get("passed") else "failed"
                lines.append(
                    f"{r.get('check', '')}{where}: {state}. {r.get('message', '')}".strip()
                )
            if lines:
                self.annotation(
                    uri, f"Data quality of version {version.number}:\n" + "\n".join(lines)
                )


CHUNK = 500  # datasets per graph while streaming


def _new_graph() -> Graph:
    # No default prefixes: rdflib's namespace lookups grow with every namespace it has seen.
    return _bind(Graph(bind_namespaces="none"))


class Triples:
    """The triples of a piece of the catalogue, without rdflib's store (much cheaper to fill; the
    writers need nothing more). ``graph()`` makes an rdflib Graph of them."""

    def __init__(self):
        self._triples: dict = {}

    def add(self, triple) -> None:
        self._triples[triple] = None

    def __iter__(self):
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def graph(self) -> Graph:
        graph = _new_graph()
        for triple in self._triples:
            graph.add(triple)
        return graph


def catalog_chunks(user, datasets: Iterable | None = None) -> Iterator[Triples]:
    """The catalogue in pieces: the catalogue itself, then graphs of ``CHUNK`` datasets each (each
    with its own copy of the vocabulary terms it uses and its "dcat:dataset" link), so memory
    stays flat however large the catalogue. ``datasets`` narrows it (datasets the caller checked)."""
    graph = Triples()
    _Builder(graph).catalog()
    yield graph
    catalog = catalog_uri()
    if datasets is None:
        datasets = datasets_for_catalog(user).iterator(chunk_size=2000)
    graph, builder = Triples(), None
    for count, dataset in enumerate(datasets, start=1):
        if builder is None:
            builder = _Builder(graph)
        builder.dataset(dataset, catalog)
        if count % CHUNK == 0:
            yield graph
            graph, builder = Triples(), None
    if builder is not None:
        yield graph


def catalog_graph(user, datasets: Iterable | None = None) -> Graph:
    """The catalogue as the visitor may see it, in one graph (``datasets`` narrows it: datasets
    the caller has already checked)."""
    graph = _new_graph()
    for chunk in catalog_chunks(user, datasets):
        for triple in chunk:
            graph.add(triple)
    return graph


def dataset_graph(dataset) -> Graph:
    """One dataset (the caller checked "dataset.view"), inside the catalogue."""
    graph = _new_graph()
    builder = _Builder(graph)
    builder.dataset(dataset, builder.catalog())
    return graph

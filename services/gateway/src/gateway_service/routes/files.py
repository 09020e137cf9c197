"""`/v1/files`: uploads (multipart, streamed into S3), their metadata, downloads (the file service).

`POST /v1/files` never holds a file in memory: the body is parsed as it arrives (`multipart`'s
push parser) and the file part flows through a bounded `Pipe` into minio's `put_object` in a
worker thread (10 MiB parts), so memory stays bounded whatever the size. The form fields
`spaceId` and `environmentId` must come before the file part (httpx and the Python SDK send
them first): the file service checks the space and names the object before a byte is stored.
Larger than `SPACEPORT_MAX_FILE_SIZE` answers 413 and leaves neither an object nor a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import queue
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.exceptions import HTTPException
from litestar.response import Stream
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from minio import Minio
from minio.error import S3Error
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from gateway_service.api_docs import ANY_FILE
from gateway_service.auth import (
    environment_of,
    principal_of,
    refuse_publishable,
    require_space_role,
)
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import int_param, param
from gateway_service.state import Gateway
from spaceport.contracts.file import (
    SERVICE,
    CreateFile,
    DeleteFile,
    FileObject,
    FilePage,
    FileView,
    FileWritten,
    GetFile,
    GetFileObject,
    ListFiles,
    PrepareUpload,
    UpdateFile,
    UploadTicket,
)
from spaceport.contracts.space import Principal
from spaceport.errors import NotFoundError, ServiceUnavailableError, ValidationFailedError

BASE = "/v1/files"
ONE = BASE + "/{file_id:str}"
PART_SIZE = 10 * 1024 * 1024
PIPE_DEPTH = 16  # chunks (of the server's read size, ~64 KiB) between the request and the S3 writer
MAX_FIELDS_BYTES = 1024 * 1024  # every form field but the file, together
DRAIN_LIMIT = 64 * 1024 * 1024  # after a 413, the rest of the body read (so the client sees the answer)
DOWNLOAD_CHUNK = 1024 * 1024
UPLOAD_TIMEOUT = 60.0  # the file service's answers around an upload; the bytes themselves are not timed
Json = dict[str, Any]


class FileUpdateBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str | None = None
    status: str | None = None
    mode: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    actions: list[Json] | None = None


def too_large(message: str) -> HTTPException:
    """A 413 through Litestar's exception (the error handler adds `Connection: close`)."""
    return HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=message)


# ---- the pipe from the request to the S3 writer ----------------------------------------------


class UploadAbortedError(Exception):
    """Raised in the writer thread so minio abandons (and aborts) the upload."""


_END = b""


class Pipe:
    """A bounded byte pipe from the event loop to one reader thread (minio's `data.read(n)`)."""

    def __init__(self, depth: int = PIPE_DEPTH) -> None:
        self._chunks: queue.Queue[bytes] = queue.Queue(depth)
        self._rest = b""
        self._ended = False
        self.aborted = False

    async def put(self, chunk: bytes, alive: Callable[[], bool]) -> None:
        """Queue `chunk` (b"" ends the stream); returns early once the reader is gone (`alive` False)."""
        with contextlib.suppress(queue.Full):
            self._chunks.put_nowait(chunk)
            return
        while alive():  # the writer is behind: wait for room without blocking the loop
            with contextlib.suppress(queue.Full):
                await asyncio.to_thread(self._chunks.put, chunk, True, 0.5)
                return

    def abort(self) -> None:
        """Make the reader fail at its next read (and unblock it if it waits)."""
        self.aborted = True
        try:
            while True:
                self._chunks.get_nowait()
        except queue.Empty:
            pass
        with contextlib.suppress(queue.Full):
            self._chunks.put_nowait(_END)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes, as many as that when the stream has them (minio wants whole parts)."""
        parts, have = [self._rest], len(self._rest)
        while (size < 0 or have < size) and not self._ended:
            chunk = self._chunks.get()
            if self.aborted:
                raise UploadAbortedError
            if chunk == _END:
                self._ended = True
                break
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts)
        cut = len(joined) if size < 0 else size
        self._rest = joined[cut:]
        return joined[:cut]


class ObjectWriter:
    """One S3 object written from a `Pipe` by a worker thread."""

    def __init__(self, client: Minio, ticket: UploadTicket, content_type: str) -> None:
        self.client = client
        self.ticket = ticket
        self.pipe = Pipe()
        self.size = 0
        self.task = asyncio.create_task(asyncio.to_thread(self._write, content_type))

    def _write(self, content_type: str) -> None:
        self.client.put_object(
            self.ticket.bucket,
            self.ticket.object_key,
            cast("BinaryIO", self.pipe),  # minio only calls read(n)
            length=-1,
            part_size=PART_SIZE,
            content_type=content_type,
        )

    def _alive(self) -> bool:
        return not self.task.done()

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        await self.pipe.put(chunk, self._alive)
        if self.task.done():  # the writer failed: say why now, not at the end of the body
            await self.finish()

    async def finish(self) -> None:
        await self.pipe.put(_END, self._alive)
        try:
            await self.task
        except (S3Error, OSError, ValueError) as error:
            raise ServiceUnavailableError(f"the file could not be stored: {error}") from None
        if self.pipe.aborted:
            raise ServiceUnavailableError("the upload was abandoned")

    async def discard(self) -> None:
        """Stop the upload and make sure no object is left (a single-part put may have landed)."""
        self.pipe.abort()
        with contextlib.suppress(Exception):  # the writer fails by design once aborted
            await self.task
        with contextlib.suppress(S3Error, OSError):  # best effort: the request fails anyway
            await asyncio.to_thread(self.client.remove_object, self.ticket.bucket, self.ticket.object_key)


# ---- receiving a multipart upload -------------------------------------------------------------


class Upload:
    """The form of one `POST /v1/files` as it is parsed; the file part goes to S3 as it arrives."""

    def __init__(self, gateway: Gateway, principal: Principal) -> None:
        self.gateway = gateway
        self.principal = principal
        self.fields: dict[str, list[str]] = {}
        self.field_bytes = 0
        self.current: MultipartSegment | None = None
        self.value = bytearray()
        self.writer: ObjectWriter | None = None
        self.name = ""
        self.mimetype = "application/octet-stream"
        self.encoding: str | None = None
        self.file_done = False
        self.space_id = ""
        self.environment_id = ""

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    async def on_segment(self, segment: MultipartSegment) -> None:
        self.current = segment
        if segment.name != "file":
            return
        if self.writer is not None or self.file_done:
            raise ValidationFailedError("send one file part only", key="file")
        await self._start_file(segment)

    async def on_data(self, chunk: bytes) -> None:
        if self.current is not None and self.current.name == "file" and self.writer is not None:
            if self.writer.size + len(chunk) > self.gateway.settings.max_file_size:
                raise too_large(f"the file is larger than {self.gateway.settings.max_file_size} bytes")
            await self.writer.write(chunk)
            return
        self.field_bytes += len(chunk)
        if self.field_bytes > MAX_FIELDS_BYTES:
            raise too_large(f"the form fields are larger than {MAX_FIELDS_BYTES} bytes")
        self.value.extend(chunk)

    async def on_end(self) -> None:
        segment, self.current = self.current, None
        if segment is None:
            return
        if segment.name == "file":
            self.file_done = True
            return
        try:
            text = self.value.decode(segment.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise ValidationFailedError(f"form field {segment.name!r} is not UTF-8 text", key=segment.name) from None
        self.fields.setdefault(segment.name or "", []).append(text)
        self.value = bytearray()

    async def _start_file(self, segment: MultipartSegment) -> None:
        space_id = self.field("spaceId")
        if not space_id:
            raise ValidationFailedError("spaceId is required (and must come before the file part)", key="spaceId")
        require_space_role(self.principal, space_id, "write")
        environment_id = environment_of(self.principal, self.field("environmentId"))
        self.space_id, self.environment_id = space_id, environment_id
        filename = (segment.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1] or "upload"
        self.name = filename
        guessed = mimetypes.guess_type(filename)[0]
        declared = segment.content_type
        self.mimetype = (declared if declared and declared != "application/octet-stream" else guessed) or (
            declared or "application/octet-stream"
        )
        self.encoding = segment.charset
        command = PrepareUpload(
            principal=self.principal, environment_id=environment_id, space_id=space_id, name=filename
        )
        ticket = await self.gateway.rpc.request(SERVICE, command, UploadTicket, timeout=UPLOAD_TIMEOUT)
        self.writer = ObjectWriter(self.gateway.s3, ticket, self.mimetype)

    def actions(self) -> list[Json]:
        """Every `actions` field: a JSON action, or a JSON list of them (the TS SDK sends one per field)."""
        found: list[Json] = []
        for text in self.fields.get("actions", []):
            try:
                value = msgspec.json.decode(text)
            except msgspec.DecodeError:
                raise ValidationFailedError(
                    "actions must be JSON (an action or a list of actions)", key="actions"
                ) from None
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in items):
                raise ValidationFailedError("each action must be a JSON object", key="actions")
            found.extend(items)
        return found


def boundary_of(request: Request[Any, Any, Any]) -> str:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise ValidationFailedError("send the upload as multipart/form-data (fields spaceId, environmentId, file)")
    return str(boundary)


async def receive(request: Request[Any, Any, Any], upload: Upload, boundary: str) -> None:
    """Parse the body as it arrives, feeding `upload`; the stream must end with the closing boundary."""
    try:
        with PushMultipartParser(boundary, max_segment_count=64) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    await _dispatch(upload, event)
            for event in parser.parse(b""):
                await _dispatch(upload, event)
    except MultipartError as error:
        raise ValidationFailedError(f"malformed multipart body: {error}") from None


async def _dispatch(upload: Upload, event: MultipartSegment | bytes | None) -> None:
    if isinstance(event, MultipartSegment):
        await upload.on_segment(event)
    elif event:
        await upload.on_data(event)
    else:
        await upload.on_end()


async def drain(request: Request[Any, Any, Any]) -> None:
    """Read (and drop) what is left of the body, up to DRAIN_LIMIT, so the client reads our 413."""
    read = 0
    try:
        async for chunk in request.stream():
            read += len(chunk)
            if read > DRAIN_LIMIT:
                return
    except Exception:  # noqa: S110 - a client that went away; nothing to answer
        pass


async def _created(gateway: Gateway, upload: Upload) -> FileWritten:
    writer = upload.writer
    if writer is None or not upload.file_done:
        raise ValidationFailedError("the form has no file part (a field named 'file')", key="file")
    await writer.finish()
    command = CreateFile(
        principal=upload.principal,
        environment_id=upload.environment_id,
        space_id=upload.space_id,
        file_id=writer.ticket.file_id,
        object_key=writer.ticket.object_key,
        name=upload.name,
        size=writer.size,
        mimetype=upload.mimetype,
        encoding=upload.encoding,
        mode=upload.field("mode") or "import",
        actions=upload.actions(),
        origin=upload.field("origin"),
    )
    return await gateway.rpc.request(SERVICE, command, FileWritten, timeout=UPLOAD_TIMEOUT)


# ---- routes ----------------------------------------------------------------------------------


async def _file(gateway: Gateway, principal: Principal, file_id: str, position: int = 0) -> dict[str, object]:
    return data(await _visible_file(gateway, principal, file_id, position))


async def _visible_file(gateway: Gateway, principal: Principal, file_id: str, position: int = 0) -> FileView:
    """The file; 404 for one the guest does not see. A guest limited to some workbooks sees their
    files and its own uploads, whatever workbook those name (the file service decides)."""
    query = GetFile(principal=principal, file_id=file_id, min_position=position)
    return await gateway.rpc.request(SERVICE, query, FileView)


async def _caller(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """A secret key, or a guest (the file service shows a guest its own space's files only)."""
    principal = await principal_of(request, gateway)
    refuse_publishable(principal)
    return principal


async def _writer(request: Request[Any, Any, Any], gateway: Gateway, file_id: str) -> Principal:
    """A caller that may write in the file's space (a viewer guest may not)."""
    principal = await _caller(request, gateway)
    if principal.kind == "guest":
        view = await _visible_file(gateway, principal, file_id)
        require_space_role(principal, view.space_id, "write")
    return principal


@post(BASE, status_code=200, request_max_body_size=None)
async def upload_file(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await _caller(request, gateway)
    boundary = boundary_of(request)
    limit = gateway.settings.max_file_size + MAX_FIELDS_BYTES
    if (request.content_length or 0) > limit:
        await drain(request)
        raise too_large(f"the upload is larger than {limit} bytes")
    upload = Upload(gateway, principal)
    try:
        await receive(request, upload, boundary)
        written = await _created(gateway, upload)
    except BaseException as error:
        if upload.writer is not None:
            await upload.writer.discard()
        if isinstance(error, HTTPException) and error.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            await drain(request)
        raise
    return await _file(gateway, principal, written.file_id, written.position)


@get(BASE)
async def list_files(request: Request[Any, Any, Any], gateway: Gateway) -> FilePage:
    principal = await _caller(request, gateway)
    query = ListFiles(
        principal=principal,
        space_id=param(request, "spaceId"),
        mode=param(request, "mode") or "import",
        page_size=int_param(request, "pageSize", 20),
        page_number=int_param(request, "pageNumber", 1),
    )
    # a guest limited to some workbooks: the file service lists (and counts) only theirs
    return await gateway.rpc.request(SERVICE, query, FilePage)


@get(ONE)
async def get_file(request: Request[Any, Any, Any], gateway: Gateway, file_id: str) -> dict[str, object]:
    return await _file(gateway, await _caller(request, gateway), file_id)


@patch(ONE, request_max_body_size=MAX_JSON_BODY)
async def update_file(request: Request[Any, Any, Any], gateway: Gateway, file_id: str) -> dict[str, object]:
    principal = await _writer(request, gateway, file_id)
    body = await decode(request, FileUpdateBody)
    command = UpdateFile(principal=principal, file_id=file_id, **msgspec.structs.asdict(body))
    written = await gateway.rpc.request(SERVICE, command, FileWritten)
    return await _file(gateway, principal, file_id, written.position)


@delete(ONE, status_code=200)
async def delete_file(request: Request[Any, Any, Any], gateway: Gateway, file_id: str) -> dict[str, object]:
    principal = await _writer(request, gateway, file_id)
    await gateway.rpc.request(SERVICE, DeleteFile(principal=principal, file_id=file_id), FileWritten)
    return SUCCESS


@get(ONE + "/download", responses=ANY_FILE)
async def download_file(request: Request[Any, Any, Any], gateway: Gateway, file_id: str) -> Stream:
    principal = await _caller(request, gateway)
    if principal.workbook_ids is not None:
        await _visible_file(gateway, principal, file_id)
    found = await gateway.rpc.request(SERVICE, GetFileObject(principal=principal, file_id=file_id), FileObject)
    try:
        response = await asyncio.to_thread(gateway.s3.get_object, found.bucket, found.object_key)
    except S3Error as error:
        if error.code in ("NoSuchKey", "NoSuchBucket"):
            raise NotFoundError(f"file {file_id} has no stored bytes", key="fileId") from None
        raise ServiceUnavailableError(f"the file could not be read: {error.code}") from None

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(response.read, DOWNLOAD_CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    headers = {"Content-Disposition": disposition(found.name), "Content-Length": str(found.size)}
    return Stream(chunks(), media_type=found.mimetype, headers=headers)


def disposition(name: str) -> str:
    """`attachment` with the name: an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


ROUTES = [upload_file, list_files, get_file, update_file, delete_file, download_file]

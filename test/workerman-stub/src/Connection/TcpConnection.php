<?php
/**
 * One accepted TCP connection inside a worker process of the Workerman
 * stand-in. Speaks one of three application protocols, chosen by the
 * worker's listen address:
 *  - http:      HTTP/1.1 with keep-alive (stays open across requests unless
 *               the client sends "Connection: close" or speaks HTTP/1.0)
 *  - websocket: RFC 6455 handshake + text/binary frames (a client that does
 *               not start with "GET " is treated as a raw TCP stream)
 *  - tcp:       raw bytes, every read is one message
 */

namespace Workerman\Connection;

use Workerman\Protocols\Http\Request;
use Workerman\Protocols\Http\Response;
use Workerman\Worker;

class TcpConnection
{
    public const READ_SIZE = 65535;
    public const MAX_PACKAGE = 10485760;

    /** @var array<int, TcpConnection> connections of this process, by id */
    public static array $connections = [];

    /** Per-process counters (status table). */
    public static array $statistics = [
        'connection_count' => 0,
        'total_request' => 0,
        'throw_exception' => 0,
        'send_fail' => 0,
    ];

    protected static int $idRecorder = 1;

    public int $id;
    /** @var Worker|null */
    public $worker;
    public string $protocol;
    public $onMessage = null;
    public $onClose = null;
    public $onError = null;
    public $onBufferFull = null;
    public $onBufferDrain = null;
    public int $bytesRead = 0;
    public int $bytesWritten = 0;
    /** free-form per-connection storage for apps */
    public $context;

    /** @var resource */
    protected $socket;
    protected string $remoteAddress;
    protected string $recvBuffer = '';
    protected string $sendBuffer = '';
    protected bool $closing = false;
    protected bool $destroyed = false;
    /** http: keep-alive decision of the request being answered */
    protected bool $keepAlive = true;
    /** websocket: 0 = waiting for handshake, 1 = websocket, 2 = raw passthrough */
    protected int $wsState = 0;

    /** @param resource $socket */
    public function __construct($socket, string $remoteAddress, string $protocol, ?Worker $worker = null)
    {
        $this->socket = $socket;
        $this->remoteAddress = $remoteAddress;
        $this->protocol = $protocol;
        $this->worker = $worker;
        $this->id = self::$idRecorder++;
        $this->context = new \stdClass();
        stream_set_blocking($socket, false);
        stream_set_read_buffer($socket, 0);
        self::$connections[$this->id] = $this;
        self::$statistics['connection_count']++;
        if ($worker !== null) {
            $worker->connections[$this->id] = $this;
            $this->onMessage = $worker->onMessage;
            $this->onClose = $worker->onClose;
            $this->onError = $worker->onError;
            $this->onBufferFull = $worker->onBufferFull;
            $this->onBufferDrain = $worker->onBufferDrain;
        }
    }

    /** @return resource */
    public function getSocket()
    {
        return $this->socket;
    }

    public function getRemoteAddress(): string
    {
        return $this->remoteAddress;
    }

    public function getRemoteIp(): string
    {
        $pos = strrpos($this->remoteAddress, ':');
        return $pos === false ? $this->remoteAddress : trim(substr($this->remoteAddress, 0, $pos), '[]');
    }

    public function getRemotePort(): int
    {
        $pos = strrpos($this->remoteAddress, ':');
        return $pos === false ? 0 : (int)substr($this->remoteAddress, $pos + 1);
    }

    public function getLocalAddress(): string
    {
        return (string)@stream_socket_get_name($this->socket, false);
    }

    public function wantsRead(): bool
    {
        return !$this->destroyed && !$this->closing;
    }

    public function wantsWrite(): bool
    {
        return !$this->destroyed && $this->sendBuffer !== '';
    }

    public function isClosed(): bool
    {
        return $this->destroyed;
    }

    /** Called by the worker loop when the socket is readable. */
    public function handleRead(): void
    {
        if ($this->destroyed) {
            return;
        }
        $data = @fread($this->socket, self::READ_SIZE);
        if ($data === '' || $data === false) {
            if ($data === false || feof($this->socket)) {
                $this->destroy();
            }
            return;
        }
        $this->bytesRead += strlen($data);
        $this->recvBuffer .= $data;
        if (strlen($this->recvBuffer) > self::MAX_PACKAGE) {
            $this->destroy();
            return;
        }
        switch ($this->protocol) {
            case 'http':
                $this->parseHttp();
                break;
            case 'websocket':
            case 'ws':
                $this->parseWebsocket();
                break;
            default:
                $buffer = $this->recvBuffer;
                $this->recvBuffer = '';
                $this->emitMessage($buffer);
        }
    }

    /** Called by the worker loop when the socket is writable. */
    public function handleWrite(): void
    {
        if ($this->destroyed || $this->sendBuffer === '') {
            return;
        }
        $written = @fwrite($this->socket, $this->sendBuffer);
        if ($written === false) {
            self::$statistics['send_fail']++;
            $this->destroy();
            return;
        }
        if ($written > 0) {
            $this->bytesWritten += $written;
            $this->sendBuffer = (string)substr($this->sendBuffer, $written);
        }
        if ($this->sendBuffer === '') {
            if ($this->onBufferDrain) {
                ($this->onBufferDrain)($this);
            }
            if ($this->closing) {
                $this->destroy();
            }
        }
    }

    /**
     * Sends a message, encoded for the connection's protocol. For http a
     * string becomes a 200 text/html response; a Response is sent as is.
     */
    public function send($data, bool $raw = false)
    {
        if ($this->destroyed) {
            return false;
        }
        $closeAfter = false;
        if (!$raw) {
            if ($this->protocol === 'http') {
                if (!$data instanceof Response) {
                    $data = new Response(200, [], (string)$data);
                }
                $data = $data->encode($this->keepAlive);
                $closeAfter = !$this->keepAlive;
            } elseif (($this->protocol === 'websocket' || $this->protocol === 'ws') && $this->wsState === 1) {
                $data = self::wsFrame((string)$data, 0x1);
            } else {
                $data = (string)$data;
            }
        } else {
            $data = (string)$data;
        }
        $this->rawWrite($data);
        if ($closeAfter) {
            $this->close();
        }
        return true;
    }

    /** Closes after everything queued has been written; $data is sent first. */
    public function close($data = null, bool $raw = false): void
    {
        if ($this->destroyed || $this->closing) {
            return;
        }
        if ($data !== null) {
            $this->send($data, $raw);
        }
        $this->closing = true;
        if ($this->sendBuffer === '') {
            $this->destroy();
        }
    }

    /** Closes at once, dropping whatever is queued. */
    public function destroy(): void
    {
        if ($this->destroyed) {
            return;
        }
        $this->destroyed = true;
        @fclose($this->socket);
        unset(self::$connections[$this->id]);
        if ($this->worker !== null) {
            unset($this->worker->connections[$this->id]);
        }
        self::$statistics['connection_count']--;
        if ($this->onClose) {
            try {
                ($this->onClose)($this);
            } catch (\Throwable $e) {
                Worker::stopAll(250, $e);
            }
        }
        $this->onMessage = $this->onClose = $this->onError = $this->onBufferFull = $this->onBufferDrain = null;
    }

    protected function rawWrite(string $data): void
    {
        if ($data === '') {
            return;
        }
        if ($this->sendBuffer === '') {
            $written = @fwrite($this->socket, $data);
            if ($written === false) {
                self::$statistics['send_fail']++;
                $this->destroy();
                return;
            }
            $this->bytesWritten += $written;
            if ($written === strlen($data)) {
                return;
            }
            $data = (string)substr($data, $written);
        }
        $this->sendBuffer .= $data;
    }

    protected function emitMessage($message): void
    {
        TcpConnection::$statistics['total_request']++;
        if (!$this->onMessage) {
            return;
        }
        try {
            ($this->onMessage)($this, $message);
        } catch (\Throwable $e) {
            Worker::stopAll(250, $e);
        }
    }

    protected function parseHttp(): void
    {
        while (!$this->destroyed && !$this->closing && $this->recvBuffer !== '') {
            $pos = strpos($this->recvBuffer, "\r\n\r\n");
            if ($pos === false) {
                if (strlen($this->recvBuffer) > 16384) {
                    $this->keepAlive = false;
                    $this->send(new Response(413, [], '<h1>413 Payload Too Large</h1>'));
                }
                return;
            }
            $length = 0;
            if (preg_match("/\r\ncontent-length: *(\d+)/i", substr($this->recvBuffer, 0, $pos), $m)) {
                $length = (int)$m[1];
            }
            $total = $pos + 4 + $length;
            if (strlen($this->recvBuffer) < $total) {
                return;
            }
            $raw = substr($this->recvBuffer, 0, $total);
            $this->recvBuffer = (string)substr($this->recvBuffer, $total);
            $request = new Request($raw);
            $request->connection = $this;
            $this->keepAlive = $request->keepAlive();
            $this->emitMessage($request);
        }
    }

    protected function parseWebsocket(): void
    {
        if ($this->wsState === 0) {
            if (strncmp($this->recvBuffer, 'GET ', min(4, strlen($this->recvBuffer))) !== 0) {
                // Not a websocket client: behave like a raw TCP echo stream.
                $this->wsState = 2;
            } else {
                $pos = strpos($this->recvBuffer, "\r\n\r\n");
                if ($pos === false) {
                    return;
                }
                $head = substr($this->recvBuffer, 0, $pos);
                $this->recvBuffer = (string)substr($this->recvBuffer, $pos + 4);
                if (!preg_match("/\r\nSec-WebSocket-Key: *(\S+)/i", $head, $m)) {
                    $this->close("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", true);
                    return;
                }
                $accept = base64_encode(sha1($m[1] . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11', true));
                $this->rawWrite("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    . "Sec-WebSocket-Version: 13\r\nServer: workerman\r\nSec-WebSocket-Accept: $accept\r\n\r\n");
                $this->wsState = 1;
            }
        }
        if ($this->wsState === 2) {
            $buffer = $this->recvBuffer;
            $this->recvBuffer = '';
            if ($buffer !== '') {
                $this->emitMessage($buffer);
            }
            return;
        }
        while (!$this->destroyed && strlen($this->recvBuffer) >= 2) {
            $b0 = ord($this->recvBuffer[0]);
            $b1 = ord($this->recvBuffer[1]);
            $opcode = $b0 & 0x0f;
            $masked = ($b1 & 0x80) !== 0;
            $len = $b1 & 0x7f;
            $offset = 2;
            if ($len === 126) {
                if (strlen($this->recvBuffer) < 4) {
                    return;
                }
                $len = unpack('n', substr($this->recvBuffer, 2, 2))[1];
                $offset = 4;
            } elseif ($len === 127) {
                if (strlen($this->recvBuffer) < 10) {
                    return;
                }
                $len = unpack('J', substr($this->recvBuffer, 2, 8))[1];
                $offset = 10;
            }
            $maskKey = '';
            if ($masked) {
                $maskKey = substr($this->recvBuffer, $offset, 4);
                $offset += 4;
            }
            if (strlen($this->recvBuffer) < $offset + $len) {
                return;
            }
            $payload = (string)substr($this->recvBuffer, $offset, $len);
            $this->recvBuffer = (string)substr($this->recvBuffer, $offset + $len);
            if ($masked && $len > 0) {
                $payload ^= str_pad('', $len, $maskKey);
            }
            switch ($opcode) {
                case 0x8: // close
                    $this->close(self::wsFrame('', 0x8), true);
                    return;
                case 0x9: // ping
                    $this->rawWrite(self::wsFrame($payload, 0xA));
                    break;
                case 0xA: // pong
                    break;
                default:
                    $this->emitMessage($payload);
            }
        }
    }

    protected static function wsFrame(string $payload, int $opcode): string
    {
        $len = strlen($payload);
        if ($len < 126) {
            $head = chr(0x80 | $opcode) . chr($len);
        } elseif ($len < 65536) {
            $head = chr(0x80 | $opcode) . chr(126) . pack('n', $len);
        } else {
            $head = chr(0x80 | $opcode) . chr(127) . pack('J', $len);
        }
        return $head . $payload;
    }
}

<?php
/**
 * Tiny HTTP request for the Workerman stand-in (parsed from one complete
 * request buffer: head + body).
 */

namespace Workerman\Protocols\Http;

class Request
{
    /** @var mixed the TcpConnection that received this request */
    public $connection = null;

    protected string $buffer;
    protected string $method = 'GET';
    protected string $uri = '/';
    protected string $protocolVersion = '1.1';
    /** @var array<string, string> lower-cased names */
    protected array $headers = [];
    protected string $body = '';
    protected ?array $get = null;
    protected ?array $post = null;

    public function __construct(string $buffer)
    {
        $this->buffer = $buffer;
        $pos = strpos($buffer, "\r\n\r\n");
        $head = $pos === false ? $buffer : substr($buffer, 0, $pos);
        $this->body = $pos === false ? '' : (string)substr($buffer, $pos + 4);
        $lines = explode("\r\n", $head);
        $first = array_shift($lines);
        $parts = explode(' ', (string)$first, 3);
        $this->method = strtoupper($parts[0] ?? 'GET');
        $this->uri = $parts[1] ?? '/';
        if (isset($parts[2]) && preg_match('#HTTP/(\d\.\d)#i', $parts[2], $m)) {
            $this->protocolVersion = $m[1];
        }
        foreach ($lines as $line) {
            $colon = strpos($line, ':');
            if ($colon === false) {
                continue;
            }
            $name = strtolower(trim(substr($line, 0, $colon)));
            $value = trim(substr($line, $colon + 1));
            $this->headers[$name] = isset($this->headers[$name]) ? $this->headers[$name] . ', ' . $value : $value;
        }
    }

    public function method(): string
    {
        return $this->method;
    }

    public function uri(): string
    {
        return $this->uri;
    }

    public function path(): string
    {
        $path = parse_url($this->uri, PHP_URL_PATH);
        return is_string($path) && $path !== '' ? $path : '/';
    }

    public function queryString(): string
    {
        $q = parse_url($this->uri, PHP_URL_QUERY);
        return is_string($q) ? $q : '';
    }

    public function protocolVersion(): string
    {
        return $this->protocolVersion;
    }

    /**
     * header() returns all headers (lower-cased names); header('Host') one
     * header, case-insensitively.
     */
    public function header(?string $name = null, $default = null)
    {
        if ($name === null) {
            return $this->headers;
        }
        return $this->headers[strtolower($name)] ?? $default;
    }

    public function host(bool $withoutPort = false): ?string
    {
        $host = $this->header('host');
        if ($host !== null && $withoutPort) {
            return preg_replace('/:\d{1,5}$/', '', $host);
        }
        return $host;
    }

    public function get(?string $name = null, $default = null)
    {
        if ($this->get === null) {
            parse_str($this->queryString(), $this->get);
        }
        if ($name === null) {
            return $this->get;
        }
        return $this->get[$name] ?? $default;
    }

    public function post(?string $name = null, $default = null)
    {
        if ($this->post === null) {
            $this->post = [];
            $type = (string)$this->header('content-type', '');
            if (stripos($type, 'application/json') !== false) {
                $decoded = json_decode($this->body, true);
                $this->post = is_array($decoded) ? $decoded : [];
            } else {
                parse_str($this->body, $this->post);
            }
        }
        if ($name === null) {
            return $this->post;
        }
        return $this->post[$name] ?? $default;
    }

    public function cookie(?string $name = null, $default = null)
    {
        $cookies = [];
        foreach (explode(';', (string)$this->header('cookie', '')) as $pair) {
            $kv = explode('=', trim($pair), 2);
            if ($kv[0] !== '') {
                $cookies[$kv[0]] = urldecode($kv[1] ?? '');
            }
        }
        if ($name === null) {
            return $cookies;
        }
        return $cookies[$name] ?? $default;
    }

    public function rawBody(): string
    {
        return $this->body;
    }

    public function rawHead(): string
    {
        $pos = strpos($this->buffer, "\r\n\r\n");
        return $pos === false ? $this->buffer : substr($this->buffer, 0, $pos);
    }

    public function rawBuffer(): string
    {
        return $this->buffer;
    }

    /** Whether the connection should stay open after the response. */
    public function keepAlive(): bool
    {
        $conn = strtolower((string)$this->header('connection', ''));
        if ($this->protocolVersion === '1.0') {
            return strpos($conn, 'keep-alive') !== false;
        }
        return strpos($conn, 'close') === false;
    }

    public function __toString(): string
    {
        return $this->buffer;
    }
}
